"""run_isolated: a step in the measurement child reaches the parent's progress sink."""

from __future__ import annotations

import os
import textwrap

from triggerbench import progress
from triggerbench.measure.isolate import run_isolated
from triggerbench.measure.job import Job

#: A runner that names the long steps of its ``prepare``, as the hls4ml or RTL runners would.
STEPPING_RUNNER = textwrap.dedent(
    """
    from triggerbench import progress
    from triggerbench.runners.null import NullRunner

    class SteppingRunner(NullRunner):
        name = "stepping"

        def prepare(self, artifact, options):
            with progress.step("compiling the firmware"):
                with progress.step("running the HLS tool"):
                    pass
            super().prepare(artifact, options)
    """
)


def _job(tmp_path, monkeypatch, quick_settings) -> Job:
    (tmp_path / "stepping_runner.py").write_text(STEPPING_RUNNER)
    # Importable here (the parent checks the runner before starting a child) and in the child.
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]))
    return Job(
        runner="stepping_runner:SteppingRunner", settings=quick_settings, out_dir=tmp_path, timeout_s=600
    )


def test_the_childs_steps_reach_the_sink_installed_here(standin_ctx, tmp_path, monkeypatch, quick_settings):
    job = _job(tmp_path, monkeypatch, quick_settings)
    events: list[progress.ProgressEvent] = []
    with progress.sink(events.append):
        with progress.step("measuring"):  # the parent's own step, in the same stream
            record = run_isolated(standin_ctx, standin_ctx.save(tmp_path / "ctx"), job)
    assert record.status == "ok", record.error
    assert [(e.kind, e.description) for e in events] == [
        ("start", "measuring"),
        ("start", "compiling the firmware"),
        ("start", "running the HLS tool"),
        ("end", "running the HLS tool"),
        ("end", "compiling the firmware"),
        ("end", "measuring"),
    ]


def test_on_progress_takes_the_childs_steps(standin_ctx, tmp_path, monkeypatch, quick_settings):
    job = _job(tmp_path, monkeypatch, quick_settings)
    events: list[progress.ProgressEvent] = []
    record = run_isolated(standin_ctx, standin_ctx.save(tmp_path / "ctx"), job, on_progress=events.append)
    assert record.status == "ok", record.error
    assert [e.kind for e in events] == ["start", "start", "end", "end"]
    assert events[-1].description == "compiling the firmware" and events[-1].elapsed_s >= 0
