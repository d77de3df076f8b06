"""The generic out-of-process channel: answers, worker errors, crashes, hangs, bad commands."""

from __future__ import annotations

import json
import os
import sys
import textwrap
import time

import numpy as np
import pytest

from triggerbench.errors import RunnerError
from triggerbench.runners.outofprocess import (
    WorkerDiedError,
    WorkerProcess,
    describe_exit,
    encode_message,
    split_command,
)

#: A minimal worker on the protocol's framing: doubles arrays, misbehaves on request.
ECHO_WORKER = textwrap.dedent(
    """
    import os, sys, time
    from triggerbench.workers.protocol import hello_info, read_message, write_message
    out = os.fdopen(os.dup(1), "wb")
    while True:
        req = read_message(sys.stdin.buffer)
        if req is None:
            break
        op = req["op"]
        if op == "double":
            write_message(out, {"ok": True, "a": req["a"] * 2, "b": req["b"][::-1].copy(), "n": 7})
        elif op == "fail":
            write_message(out, {"ok": False, "error": {"type": "ValueError", "message": "bad thing"}})
        elif op == "garbage":
            out.write(b"this is not json\\n"); out.flush()
        elif op == "die":
            sys.stderr.write("dying words\\n"); sys.stderr.flush(); os._exit(3)
        elif op == "hang":
            time.sleep(3600)
        elif op == "stop_reading":
            write_message(out, {"ok": True}); time.sleep(3600)
        elif op == "close":
            write_message(out, {"ok": True}); break
        elif op == "hello":
            write_message(out, dict(hello_info(), ok=True))
        else:
            write_message(out, {"ok": True, "pid": os.getpid()})
    """
)


@pytest.fixture
def echo(tmp_path):
    script = tmp_path / "echo_worker.py"
    script.write_text(ECHO_WORKER)
    worker = WorkerProcess([sys.executable, str(script)], timeout_s=20, name="echo worker")
    worker.start()
    yield worker
    worker.kill()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0); its state in /proc says it is gone
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().split(")")[-1].split()[0] != "Z"


@pytest.mark.parametrize("dtype", ["float32", "int8", "float64"])
def test_arrays_round_trip_through_the_worker(echo, dtype):
    x = (np.arange(24).reshape(2, 3, 4) - 12).astype(dtype)
    big = np.random.default_rng(0).random((64, 9, 384, 1), dtype=np.float32)  # > one pipe buffer
    reply = echo.request("double", a=x, b=big)
    assert reply["a"].dtype == x.dtype and reply["a"].shape == x.shape and reply["n"] == 7
    np.testing.assert_array_equal(reply["a"], x * 2)
    np.testing.assert_array_equal(reply["b"], big[::-1])


def test_messages_frame_arrays_after_the_json_line():
    data = encode_message({"op": "x", "a": np.array([1, 2], np.int8), "k": 1})
    line, _, rest = data.partition(b"\n")
    assert json.loads(line) == {"op": "x", "arrays": ["a"], "a": {"dtype": "|i1", "shape": [2]}, "k": 1}
    assert rest == b"\x01\x02"


def test_a_worker_error_is_raised_and_the_worker_lives_on(echo):
    with pytest.raises(RunnerError, match="echo worker fail: ValueError: bad thing"):
        echo.request("fail")
    assert echo.request("hello")["pid"] == echo.pid


def test_a_line_that_is_not_json_is_an_error(echo):
    with pytest.raises(RunnerError, match="not a JSON object"):
        echo.request("garbage")


def test_a_worker_that_dies_reports_its_exit_code_and_stderr(echo):
    with pytest.raises(RunnerError, match=r"exited with code 3 during 'die'.*\n.*dying words"):
        echo.request("die")
    assert not echo.running
    with pytest.raises(RunnerError, match="not started"):
        echo.request("hello")


def test_a_hung_worker_times_out_and_is_killed(echo):
    pid = echo.pid
    t0 = time.monotonic()
    with pytest.raises(RunnerError, match=r"no answer to 'hang' within 0.5 s; killed it"):
        echo.request("hang", timeout_s=0.5)
    assert time.monotonic() - t0 < 600  # the worker would sleep an hour; any host is faster
    assert not _alive(pid)


def test_a_worker_that_stops_reading_cannot_block_the_write(echo):
    big = np.zeros(8 << 20, np.uint8)  # 8 MiB: far more than a pipe holds
    echo.request("stop_reading")  # answers, then sleeps without reading stdin
    t0 = time.monotonic()
    with pytest.raises(RunnerError, match="no answer to 'big' within 0.5 s"):
        echo.request("big", timeout_s=0.5, blob=big)
    assert time.monotonic() - t0 < 600  # a blocked write would wait the hour the worker sleeps


def test_close_asks_then_the_process_is_gone(echo):
    pid = echo.pid
    echo.close()
    assert not echo.running and not _alive(pid)


def test_a_command_that_does_not_exist_is_an_error():
    worker = WorkerProcess("/nonexistent/python3 -m nothing", name="vart worker")
    with pytest.raises(
        RunnerError, match="vart worker: cannot start /nonexistent/python3 -m nothing: No such file"
    ):
        worker.start()


def test_a_worker_that_exits_at_once_is_an_error():
    worker = WorkerProcess(
        [sys.executable, "-c", "import sys; sys.stderr.write('no vart here'); sys.exit(2)"]
    )
    worker.start()
    with pytest.raises(RunnerError, match=r"exited with code 2 during 'hello'.*\n.*no vart here"):
        worker.request("hello", timeout_s=20)


def test_a_banner_before_the_first_answer_can_be_skipped(tmp_path):
    script = tmp_path / "echo_worker.py"
    script.write_text(ECHO_WORKER)
    command = f"sh -c 'echo XILINX_XRT = /opt/xilinx/xrt; echo; exec {sys.executable} {script}'"
    with WorkerProcess(command, timeout_s=20) as worker:
        assert worker.request("hello", skip_noise=True)["pid"] == worker.pid
        assert "stdout: XILINX_XRT = /opt/xilinx/xrt" in worker.stderr_tail()
    with WorkerProcess(command, timeout_s=20) as worker:
        with pytest.raises(RunnerError, match="not a JSON object"):
            worker.request("hello")


def test_commands_are_split_like_a_shell():
    assert split_command("docker exec -i 'vitis ai' python3 /w/x.py") == [
        "docker",
        "exec",
        "-i",
        "vitis ai",
        "python3",
        "/w/x.py",
    ]
    with pytest.raises(RunnerError, match="empty"):
        split_command("  ")
    with pytest.raises(RunnerError, match="cannot parse"):
        split_command("python3 'unclosed")


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (0, "exited with code 0"),
        (3, "exited with code 3"),
        (-9, "killed by signal 9 (SIGKILL)"),
        (-15, "killed by signal 15 (SIGTERM)"),
        (-200, "killed by signal 200"),
        (None, "ended with an unknown exit status"),
    ],
)
def test_an_exit_is_described_in_words(code, words):
    assert describe_exit(code) == words


def test_a_worker_killed_by_a_signal_says_which(tmp_path):
    script = tmp_path / "w.py"
    script.write_text("import os, signal, sys\nsys.stdin.readline()\nos.kill(os.getpid(), signal.SIGKILL)\n")
    with WorkerProcess([sys.executable, str(script)], timeout_s=60) as worker:
        with pytest.raises(WorkerDiedError, match=r"killed by signal 9 \(SIGKILL\) during 'die'") as died:
            worker.request("die")
    assert died.value.exit_code == -9
