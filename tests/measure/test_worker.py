import io
import json

from triggerbench.measure import worker


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
    assert answers[0]["error"] == {"type": "ValueError", "message": "unknown op 'dance'"}
    assert answers[1]["error"]["type"] in ("FileNotFoundError", "UserInputError")


def test_measure_returns_the_record(standin_ctx, tmp_path, quick_settings):
    ctx_dir = standin_ctx.save(tmp_path / "ctx")
    job = {"runner": "null", "settings": quick_settings.model_dump(), "out_dir": str(tmp_path)}
    (answer,) = replies({"op": "measure", "context_dir": str(ctx_dir), "job": job})
    assert (
        answer["ok"] and answer["record"]["status"] == "ok" and answer["record"]["runner"]["name"] == "null"
    )
