import io
import json

from triggerbench import progress
from triggerbench.measure import worker
from triggerbench.workers.protocol import PROTOCOL_VERSION


def replies(*requests: dict) -> list[dict]:
    stdin = io.BytesIO(b"".join(json.dumps(r).encode() + b"\n" for r in requests))
    channel = io.BytesIO()
    worker.serve(stdin, channel)
    return [json.loads(line) for line in channel.getvalue().splitlines()]


def test_bad_requests_are_answered_and_close_ends_the_worker():
    answers = replies(
        {"op": "dance"},
        {"op": "measure", "context_dir": "/nonexistent", "job": {"runner": "null"}},
        {"op": "close"},
        {"op": "measure"},
    )
    assert [a["ok"] for a in answers] == [False, False, True]  # nothing answered after close
    assert answers[0]["error"] == {"type": "ProtocolError", "message": "unknown op 'dance'"}
    assert answers[1]["error"]["type"] in ("FileNotFoundError", "UserInputError")


def test_measure_returns_the_record(standin_ctx, tmp_path, quick_settings):
    ctx_dir = standin_ctx.save(tmp_path / "ctx")
    job = {"runner": "null", "settings": quick_settings.model_dump(), "out_dir": str(tmp_path)}
    (answer,) = replies({"op": "measure", "context_dir": str(ctx_dir), "job": job})
    assert (
        answer["ok"] and answer["record"]["status"] == "ok" and answer["record"]["runner"]["name"] == "null"
    )


def test_hello_answers_the_protocol_version():
    (answer,) = replies({"op": "hello", "protocol": PROTOCOL_VERSION})
    assert answer["ok"] and answer["protocol"] == PROTOCOL_VERSION


def test_steps_while_measuring_are_sent_before_the_reply(monkeypatch):
    def stepping(request):
        with progress.step("exporting"):
            pass
        return {"done": True}

    monkeypatch.setitem(worker.HANDLERS, "stepping", stepping)
    answers = replies({"op": "stepping"})
    assert [(a["progress"]["kind"], a["progress"]["description"]) for a in answers[:2]] == [
        ("start", "exporting"),
        ("end", "exporting"),
    ]
    assert answers[2] == {"done": True, "ok": True}
    assert progress.set_sink(None) is None  # the child's sink is gone once it stops serving
