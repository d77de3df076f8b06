"""Parametrization of the suite: workloads x runners x batch sizes (quick mode: fewer, shorter)."""

from __future__ import annotations

import pytest

from triggerbench.models.workloads import WORKLOADS
from triggerbench.runners import registry

#: Quick mode: the seed talk's headline models.
QUICK_WORKLOADS = ["muon-l0-teacher", "muon-l0-qstudent-4bit", "llp-vgg"]
#: Full mode: the reference models (teacher, student, KD student, 4-bit KD student, LLP VGG). The
#: scan variants (2- to 8-bit, intermediate), the int8 and pruned derivations and the stand-in
#: join with --triggerbench-all-workloads: with them a full run is 443 benchmarks, hours on 2 cores.
REFERENCE_WORKLOADS = [
    "muon-l0-teacher",
    "muon-l0-student",
    "muon-l0-student-kd",
    "muon-l0-qstudent-4bit",
    "llp-vgg",
]
#: The scenario tests (multi-stream, server, offline, trigger) run on the first of these present.
SCENARIO_WORKLOADS = ["muon-l0-student-kd", "standin-cnn"]
QUICK_BATCHES = [1, 64]
FULL_BATCHES = [1, 16, 256]


#: Marks a benchmark that trains models (the distillation study: 16 students, about an hour):
#: skipped unless asked for with ``--training`` (or selected with ``-m training``).
TRAINING_MARK = "training"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("triggerbench").addoption(
        "--training",
        action="store_true",
        default=False,
        help="also run the benchmarks marked 'training' (they train models: about an hour)",
    )
    parser.getgroup("triggerbench").addoption(
        "--triggerbench-all-workloads",
        action="store_true",
        default=False,
        help="full mode: every workload (bit-width scan, int8, pruned, stand-in), not only the references",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{TRAINING_MARK}: trains models (about an hour); opt-in with --training or -m training"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--training") or TRAINING_MARK in (config.getoption("markexpr") or ""):
        return
    skip = pytest.mark.skip(reason="trains models (about an hour): opt in with --training")
    for item in items:
        if item.get_closest_marker(TRAINING_MARK):
            item.add_marker(skip)


def _quick(config: pytest.Config) -> bool:
    from triggerbench.pytest_plugin import _SESSION_KEY

    return config.stash[_SESSION_KEY].quick


def _workloads(config: pytest.Config) -> list[str]:
    if _quick(config):
        return QUICK_WORKLOADS
    return list(WORKLOADS) if config.getoption("--triggerbench-all-workloads") else REFERENCE_WORKLOADS


def _emulator(name: str) -> bool:
    try:
        return bool(registry.get(name).emulator)
    except Exception:  # a runner that cannot even load is shown (and skipped) by the suite
        return False


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "workload" in metafunc.fixturenames:
        names = [w for w in _workloads(metafunc.config) if w in WORKLOADS] or ["standin-cnn"]
        if metafunc.function.__name__ == "test_scenario":  # four scenarios each: one model
            names = [w for w in SCENARIO_WORKLOADS if w in WORKLOADS][:1] or names[:1]
        metafunc.parametrize("workload", names)
    if "runner_name" in metafunc.fixturenames:
        # Emulators (hls4ml C-simulation, RTL simulation) run in test_firmware.py: their speed is
        # the emulator's, so LoadGen scenarios and pytest-benchmark rounds say nothing about them.
        names = [n for n in registry.names() if n != "null" and not _emulator(n)]
        metafunc.parametrize("runner_name", names)
    already = {
        name for mark in metafunc.definition.iter_markers("parametrize") for name in mark.args[0].split(",")
    }
    if "batch_size" in metafunc.fixturenames and "batch_size" not in already:
        quick = _quick(metafunc.config)
        metafunc.parametrize("batch_size", QUICK_BATCHES if quick else FULL_BATCHES)


@pytest.fixture
def available_runner(runner_name: str) -> str:
    """Skip, with the runner's own reason, when it cannot run on this host."""
    status = registry.status(runner_name)
    if not status.available:
        pytest.skip(f"runner {runner_name} unavailable: {status.reason}")
    return runner_name
