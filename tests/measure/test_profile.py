"""profile_one and the rows it builds: nodes to layers, sums, shares, and failure as data."""

from __future__ import annotations

import os
import textwrap

import pytest

from triggerbench.measure.isolate import run_isolated
from triggerbench.measure.job import Job
from triggerbench.measure.profile import NO_SOURCE_CAVEAT, layer_rows, profile_figures, profile_one
from triggerbench.runners.base import BackendProfile, NodeTiming
from triggerbench.schema import NumericalProfile

LAYERS = ["input", "conv", "pool", "dense"]

#: Runners with a known profile, importable here and in the measuring child.
PROFILING_RUNNERS = textwrap.dedent(
    """
    from triggerbench.errors import ProfileUnavailableError
    from triggerbench.runners.base import BackendProfile, NodeTiming
    from triggerbench.runners.null import NullRunner
    from triggerbench.schema import NumericalProfile

    class ProfilingRunner(NullRunner):
        name = "profiling"

        def profile(self, staged, n_calls):
            return BackendProfile(
                source="fake profiler",
                unit="s",
                nodes=[
                    NodeTiming("standin_cnn_1/conv_1/BiasAdd", "Conv", time_s=3e-6, n_calls=n_calls),
                    NodeTiming("standin_cnn_1/conv_1/Relu", "Relu", time_s=1e-6, n_calls=n_calls),
                    NodeTiming("standin_cnn_1/dense_1/MatMul", "MatMul", time_s=4e-6, n_calls=n_calls),
                    NodeTiming("Transpose__28", "Transpose", time_s=2e-6, n_calls=n_calls),
                ],
                n_calls=n_calls,
                profiled_call_s=2e-5,
                caveats=["a fake"],
            )

        def numerical_profile(self, events):
            n = events.size
            return [NumericalProfile(layer="conv", tensor="activation", n_values=n, verdict="overflows")]

    class NoProfilerRunner(NullRunner):
        name = "no-profiler"

        def profile(self, staged, n_calls):
            raise ProfileUnavailableError("the fake backend keeps no counters")

    class ValuesOnlyRunner(NoProfilerRunner):
        name = "values-only"

        def numerical_profile(self, events):
            return [NumericalProfile(layer="dense", tensor="weight", n_values=4, verdict="ok")]

    class BrokenProfilerRunner(NullRunner):
        name = "broken-profiler"

        def profile(self, staged, n_calls):
            raise RuntimeError("trace file truncated")
    """
)


@pytest.fixture
def fake_runners(tmp_path, monkeypatch) -> str:
    (tmp_path / "profiling_runners.py").write_text(PROFILING_RUNNERS)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]))
    return "profiling_runners"


def _job(runner: str, settings, tmp_path) -> Job:
    return Job(runner=runner, settings=settings, out_dir=tmp_path, timeout_s=600)


def test_nodes_of_one_layer_add_up_and_shares_sum_to_one() -> None:
    nodes = [
        NodeTiming("m_1/conv_1/BiasAdd", "Conv", time_s=6e-6),
        NodeTiming("m_1/conv_1/Relu", "Relu", time_s=2e-6),
        NodeTiming("m_1/dense_1/MatMul", "MatMul", time_s=10e-6),
        NodeTiming("ReorderOutput", "ReorderOutput", time_s=2e-6),
    ]
    rows = layer_rows(nodes, LAYERS, "s")
    assert [(r.layer, r.mapped) for r in rows] == [("conv", True), ("dense", True), ("ReorderOutput", False)]
    conv = rows[0]
    assert conv.time_s == pytest.approx(8e-6)
    assert conv.backend_names == ["m_1/conv_1/BiasAdd", "m_1/conv_1/Relu"]
    assert conv.op_types == ["Conv", "Relu"]
    assert [r.share for r in rows] == pytest.approx([0.4, 0.5, 0.1])


def test_rows_follow_the_source_model_not_the_backend() -> None:
    nodes = [NodeTiming("m_1/dense_1/MatMul", time_s=1e-6), NodeTiming("m_1/conv_1/Conv", time_s=1e-6)]
    assert [r.layer for r in layer_rows(nodes, LAYERS, "s")] == ["conv", "dense"]


def test_a_fused_node_names_the_layers_it_holds_and_keeps_its_status() -> None:
    nodes = [
        NodeTiming(
            "m_1/conv_1/Conv",
            "Convolution",
            time_s=5e-6,
            status="EXECUTED",
            details={"fused_names": "m_1/conv_1/Conv,m_1/pool_1/MaxPool", "exec_type": "jit"},
        ),
        NodeTiming("m_1/pool_1/MaxPool", "MaxPool", time_s=0.0, status="OPTIMIZED_OUT"),
    ]
    conv, pool = layer_rows(nodes, LAYERS, "s")
    assert (conv.layer, conv.fused_with, conv.status) == ("conv", ["pool"], "EXECUTED")
    assert conv.details == {"exec_type": "jit"}  # the fused names went into fused_with
    assert (pool.layer, pool.status, pool.time_s, pool.share) == ("pool", "OPTIMIZED_OUT", 0.0, 0.0)


def test_cycles_profiles_sum_cycles_and_leave_time_null_with_a_reason() -> None:
    backend = BackendProfile(
        source="csynth",
        unit="cycles",
        nodes=[NodeTiming("conv", cycles=30, layer="conv"), NodeTiming("dense", cycles=10, layer="dense")],
    )
    figures = profile_figures(backend, LAYERS, whole_call_s=None)
    assert figures.total_cycles == 40 and figures.total_s is None
    assert [r.share for r in figures.layers] == [0.75, 0.25]
    assert set(figures.null_reasons) == {"total_s", "whole_call_s", "profiled_call_s", "n_calls"}


def test_an_onnx_model_without_keras_source_says_its_rows_are_node_names() -> None:
    backend = BackendProfile(source="p", unit="s", nodes=[NodeTiming("m_1/conv_1/Conv", time_s=1e-6)])
    figures = profile_figures(backend, [], whole_call_s=1e-6)
    assert [(r.layer, r.mapped) for r in figures.layers] == [("m_1/conv_1/Conv", False)]
    assert NO_SOURCE_CAVEAT in figures.caveats


def test_profile_one_builds_a_profile_record(standin_ctx, quick_settings, tmp_path, fake_runners) -> None:
    record = profile_one(standin_ctx, _job(f"{fake_runners}:ProfilingRunner", quick_settings, tmp_path), 7)
    assert record.status == "ok", record.error
    assert (record.scenario.name, record.scenario.harness) == ("profile", "profiler")
    p = record.profile
    assert [(r.layer, r.mapped) for r in p.layers] == [
        ("conv", True),
        ("dense", True),
        ("Transpose__28", False),
    ]
    assert p.total_s == pytest.approx(10e-6)
    assert sum(r.share for r in p.layers) == pytest.approx(1.0)
    assert p.n_calls == 7 and p.profiled_call_s == 2e-5
    assert p.whole_call_s is not None and p.whole_call_s > 0  # the null runner's plain call, timed
    # The values are profiled on every validation event, not on the one staged batch.
    n_values = standin_ctx.inputs.size
    assert p.numerical == [
        NumericalProfile(layer="conv", tensor="activation", n_values=n_values, verdict="overflows")
    ]
    assert p.caveats[0] == "a fake"
    assert f"value ranges from {len(standin_ctx.inputs)} validation events" in p.caveats[1]
    assert p.caveats[2] == "values outside the chosen fixed-point range in: conv"


def test_a_runner_with_values_but_no_timing_keeps_its_numerical_profile(
    standin_ctx, quick_settings, tmp_path, fake_runners
) -> None:
    record = profile_one(standin_ctx, _job(f"{fake_runners}:ValuesOnlyRunner", quick_settings, tmp_path))
    assert record.status == "ok", record.error
    assert record.profile.layers == [] and [r.layer for r in record.profile.numerical] == ["dense"]
    assert "no timing: the fake backend keeps no counters" in record.profile.caveats


def test_a_runner_without_a_profiler_is_skipped_with_its_reason(
    standin_ctx, quick_settings, tmp_path, fake_runners
) -> None:
    record = profile_one(standin_ctx, _job(f"{fake_runners}:NoProfilerRunner", quick_settings, tmp_path))
    assert record.status == "skipped"
    assert (record.error.type, record.error.message) == (
        "ProfileUnavailable",
        "the fake backend keeps no counters",
    )
    assert record.scenario.name == "profile" and record.profile is None


def test_the_default_runner_has_no_profiler(standin_ctx, quick_settings, tmp_path) -> None:
    record = profile_one(standin_ctx, _job("null", quick_settings, tmp_path))
    assert (record.status, record.error.type) == ("skipped", "ProfileUnavailable")
    assert "no per-layer profiler" in record.error.message


def test_a_profiler_that_fails_gives_a_failed_record(
    standin_ctx, quick_settings, tmp_path, fake_runners
) -> None:
    record = profile_one(standin_ctx, _job(f"{fake_runners}:BrokenProfilerRunner", quick_settings, tmp_path))
    assert record.status == "failed" and record.scenario.name == "profile"
    assert (record.error.type, record.error.message) == ("RuntimeError", "trace file truncated")


def test_an_unknown_runner_gives_a_failed_profile_record(standin_ctx, quick_settings, tmp_path) -> None:
    record = profile_one(standin_ctx, _job("nosuch", quick_settings, tmp_path))
    assert record.status == "failed" and record.scenario.name == "profile"


def test_the_isolated_child_profiles_with_the_calls_asked(
    standin_ctx, quick_settings, tmp_path, fake_runners
) -> None:
    job = _job(f"{fake_runners}:ProfilingRunner", quick_settings, tmp_path)
    record = run_isolated(standin_ctx, standin_ctx.save(tmp_path / "ctx"), job, op="profile", n_calls=3)
    assert record.status == "ok", record.error
    assert record.profile.n_calls == 3 and record.scenario.settings["n_calls"] == 3


def test_a_child_that_dies_gives_a_failed_profile_record(standin_ctx, quick_settings, tmp_path) -> None:
    job = _job("fake_runners:DyingRunner", quick_settings, tmp_path)
    record = run_isolated(standin_ctx, standin_ctx.save(tmp_path / "ctx"), job, op="profile", n_calls=3)
    assert (record.status, record.error.type) == ("failed", "WorkerDied")
    assert (record.scenario.name, record.scenario.harness) == ("profile", "profiler")
