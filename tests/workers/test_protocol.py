"""The out-of-process protocol (workers/protocol.py): framing, handshake, serve loop, progress."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from triggerbench.errors import RunnerError
from triggerbench.progress import ProgressEvent
from triggerbench.runners.outofprocess import ProtocolVersionError, WorkerProcess
from triggerbench.workers import protocol
from triggerbench.workers.protocol import PROTOCOL_VERSION

WORKERS = Path(protocol.__file__).parent

ARRAYS = {
    "f32": np.arange(24, dtype=np.float32).reshape(2, 3, 4) / 7,
    "f64": np.linspace(-1, 1, 5),
    "i8": np.array([-128, -1, 0, 1, 127], np.int8),
    "u16": np.array([[0, 65535], [1, 2]], np.uint16),
    "i64_big_endian": np.array([1, -2, 3], ">i8"),
    "bool": np.array([True, False, True]),
    "c64": np.array([1 + 2j, -3j], np.complex64),
    "scalar": np.array(3.5, np.float32),
    "empty": np.zeros((0, 4), np.float32),
    "strided": np.arange(20, dtype=np.int32).reshape(4, 5)[:, ::2],  # not C-contiguous
}


def test_arrays_of_every_dtype_round_trip():
    stream = io.BytesIO()
    protocol.write_message(stream, {"op": "x", "n": 7, **ARRAYS})
    protocol.write_message(stream, {"op": "next"})
    stream.seek(0)
    got = protocol.read_message(stream)
    assert got.pop("op") == "x" and got.pop("n") == 7 and set(got) == set(ARRAYS)
    for name, want in ARRAYS.items():
        assert got[name].dtype == want.dtype and got[name].shape == want.shape, name
        np.testing.assert_array_equal(got[name], want)
    assert protocol.read_message(stream) == {"op": "next"}  # in step after the raw bytes
    assert protocol.read_message(stream) is None


def test_a_message_is_a_json_line_then_the_raw_bytes():
    data = protocol.encode_message({"op": "x", "a": np.array([1, 2], np.int8), "k": 1})
    line, _, rest = data.partition(b"\n")
    assert json.loads(line) == {"op": "x", "arrays": ["a"], "a": {"dtype": "|i1", "shape": [2]}, "k": 1}
    assert rest == b"\x01\x02"


@pytest.mark.parametrize(
    ("line", "error"),
    [
        (b"not json\n", "one JSON line"),
        (b"[1, 2]\n", "a JSON object, not list"),
        (b'{"arrays": ["a"]}\n', "malformed array 'a'"),
        (b'{"arrays": ["a"], "a": {"dtype": "O", "shape": [1]}}\n', "malformed array 'a'"),
        (b'{"arrays": ["a"], "a": {"dtype": "<f4", "shape": [-1]}}\n', "malformed array 'a'"),
    ],
)
def test_a_malformed_message_is_a_protocol_error(line, error):
    with pytest.raises(protocol.ProtocolError, match=error):
        protocol.read_message(io.BytesIO(line))


def test_a_stream_that_ends_inside_an_array_is_an_eof():
    data = protocol.encode_message({"a": np.zeros(8, np.float64)})
    with pytest.raises(EOFError, match="inside array 'a'"):
        protocol.read_message(io.BytesIO(data[:-1]))


def _serve(handlers, *requests):
    stdin = io.BytesIO(b"".join(protocol.encode_message(r) for r in requests))
    out = io.BytesIO()
    protocol.serve(stdin, out, handlers)
    out.seek(0)
    return list(iter(lambda: protocol.read_message(out), None))


def test_serve_dispatches_by_op_and_answers_errors_in_one_line():
    def boom(request):
        raise RuntimeError("first line\nsecond line")

    answers = _serve(
        {"twice": lambda r: {"y": r["x"] * 2}, "boom": boom},
        {"op": "twice", "x": np.arange(3)},
        {"op": "boom"},
        {"op": "dance"},
        {"op": "close"},
        {"op": "twice", "x": np.arange(3)},
    )
    assert len(answers) == 4  # nothing is answered after close
    assert answers[0]["ok"] and answers[0]["y"].tolist() == [0, 2, 4]
    assert answers[1] == {"ok": False, "error": {"type": "RuntimeError", "message": "first line"}}
    assert answers[2] == {"ok": False, "error": {"type": "ProtocolError", "message": "unknown op 'dance'"}}
    assert answers[3] == {"ok": True}


def test_hello_carries_the_version_and_what_the_handler_adds():
    (answer,) = _serve({"hello": lambda r: {"extra": 1}}, {"op": "hello", "protocol": PROTOCOL_VERSION})
    assert answer["ok"] and answer["protocol"] == PROTOCOL_VERSION and answer["extra"] == 1
    assert answer["python"] and answer["numpy"] == np.__version__


# --- the handshake, against workers speaking other versions ----------------------------------

#: A worker that answers everything from the first line on stdin ({"reply": ...}) with REPLY.
OLD_WORKER = textwrap.dedent(
    """
    import json, sys
    reply = json.loads(sys.argv[1])
    for line in sys.stdin.buffer:
        request = json.loads(line)
        sys.stdout.write(json.dumps(reply if request["op"] == "hello" else {"ok": True}) + "\\n")
        sys.stdout.flush()
        if request["op"] == "close":
            break
    """
)


@pytest.mark.parametrize(
    ("hello_reply", "version"),
    [
        ({"ok": True, "protocol": 1, "python": "3.6.15"}, 1),  # vart_worker before the handshake
        ({"ok": False, "error": {"type": "ValueError", "message": "unknown op 'hello'"}}, 1),
        ({"ok": True, "pid": 12}, 1),  # a hello without a version
        ({"ok": True, "protocol": PROTOCOL_VERSION + 1}, PROTOCOL_VERSION + 1),
    ],
    ids=["v1-vart-worker", "no-hello", "no-version", "newer"],
)
def test_a_worker_of_another_version_is_refused_in_one_line(tmp_path, hello_reply, version):
    script = tmp_path / "old_worker.py"
    script.write_text(OLD_WORKER)
    with WorkerProcess([sys.executable, str(script), json.dumps(hello_reply)], timeout_s=60) as worker:
        with pytest.raises(ProtocolVersionError) as refused:
            worker.hello()
    message = str(refused.value)
    assert "\n" not in message and refused.value.worker_version == version
    assert message.startswith(
        f"worker speaks protocol version {version}, triggerbench speaks {PROTOCOL_VERSION}: "
        "copy workers/protocol.py and workers/vart_worker.py from this triggerbench"
    )
    assert isinstance(refused.value, RunnerError)


def test_an_error_answer_to_hello_that_is_not_about_the_op_is_reported_as_such(tmp_path):
    script = tmp_path / "old_worker.py"
    script.write_text(OLD_WORKER)
    reply = {"ok": False, "error": {"type": "OSError", "message": "no device"}}
    with WorkerProcess([sys.executable, str(script), json.dumps(reply)], timeout_s=60) as worker:
        with pytest.raises(RunnerError, match="worker hello: OSError: no device"):
            worker.hello()


def _copy_worker(folder: Path, with_protocol: bool = True) -> Path:
    shutil.copy(WORKERS / "vart_worker.py", folder)
    if with_protocol:
        shutil.copy(WORKERS / "protocol.py", folder)
    return folder / "vart_worker.py"


def test_the_vart_worker_runs_as_a_script_with_protocol_beside_it(tmp_path):
    # as in the container: two copied files, no triggerbench to import (-I: not even PYTHONPATH)
    script = _copy_worker(tmp_path)
    with WorkerProcess([sys.executable, "-I", str(script)], timeout_s=60) as worker:
        versions = worker.hello()
    assert versions["protocol"] == PROTOCOL_VERSION and versions["xir"] is None


def test_the_vart_worker_without_protocol_says_what_to_copy(tmp_path):
    script = _copy_worker(tmp_path, with_protocol=False)
    run = subprocess.run([sys.executable, "-I", str(script)], capture_output=True, text=True, check=False)
    assert run.returncode == 1
    assert run.stderr == "vart_worker.py needs protocol.py beside it: copy both from triggerbench/workers/\n"


# --- progress ---------------------------------------------------------------------------------

#: A worker whose "work" op runs named steps, then waits for the parent to have seen them all
#: (the file ``seen``) before it replies: the events must reach the parent while the request is open.
STEPPING_WORKER = textwrap.dedent(
    """
    import os, time
    from triggerbench import progress
    from triggerbench.workers import protocol

    def work(request):
        for name in request["steps"]:
            with progress.step(name):
                pass
        while not os.path.exists(request["seen"]):
            time.sleep(0.01)
        return {"done": len(request["steps"])}

    stdin, out = protocol.take_stdio()
    def forward(e):
        protocol.send_progress(out, e.kind, e.description, e.elapsed_s, e.failed)
    with progress.sink(forward):
        protocol.serve(stdin, out, {"work": work})
    """
)


def test_progress_reaches_the_callback_in_order_while_the_request_is_open(tmp_path):
    script = tmp_path / "stepping_worker.py"
    script.write_text(STEPPING_WORKER)
    seen = tmp_path / "seen"
    steps = ["exporting the model", "building the firmware"]
    events: list[ProgressEvent] = []

    def on_progress(event: ProgressEvent) -> None:
        events.append(event)
        if len(events) == 2 * len(steps):
            seen.touch()  # the worker replies only after this: the request was still open

    with WorkerProcess([sys.executable, str(script)], timeout_s=120) as worker:
        assert worker.hello()["protocol"] == PROTOCOL_VERSION
        reply = worker.request("work", steps=steps, seen=str(seen), on_progress=on_progress)
        assert reply == {"done": 2}
        seen.unlink()
        # without a callback the progress is dropped and the answer still comes
        assert worker.request("work", steps=["again"], seen=str(tmp_path)) == {"done": 1}
    assert [(e.kind, e.description) for e in events] == [
        ("start", "exporting the model"),
        ("end", "exporting the model"),
        ("start", "building the firmware"),
        ("end", "building the firmware"),
    ]
    assert all(isinstance(e, ProgressEvent) and e.elapsed_s >= 0 and not e.failed for e in events)


def test_a_progress_callback_that_raises_ends_the_worker(tmp_path):
    script = tmp_path / "stepping_worker.py"
    script.write_text(STEPPING_WORKER)

    def on_progress(event: ProgressEvent) -> None:
        raise KeyError("display broke")

    with WorkerProcess([sys.executable, str(script)], timeout_s=120) as worker:
        with pytest.raises(KeyError, match="display broke"):
            worker.request("work", steps=["a"], seen=str(tmp_path), on_progress=on_progress)
        assert not worker.running  # its answer was still in the pipe: it cannot be trusted
