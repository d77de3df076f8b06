import pytest

from triggerbench.errors import UserInputError
from triggerbench.runners import registry
from triggerbench.runners.null import NullRunner


def test_builtin_runners_come_from_entry_points():
    assert {
        "null",
        "keras",
        "keras-gpu",
        "onnxruntime",
        "onnxruntime-cuda",
        "onnxruntime-tensorrt",
        "openvino",
    } <= set(registry.names())
    assert registry.get("null") is NullRunner


def test_unknown_runner_lists_known_ones():
    with pytest.raises(UserInputError, match="unknown runner 'tensorrtx'; known runners: .*keras"):
        registry.get("tensorrtx")


def test_module_class_spec_loads_a_runner_without_packaging():
    cls = registry.get("fake_runners:UnavailableRunner")
    assert cls.name == "unavailable"
    status = registry.status("fake_runners:UnavailableRunner")
    assert not status.available and "FooAccelerator" in status.reason
    with pytest.raises(UserInputError, match="not a triggerbench Runner"):
        registry.get("os:path")
    with pytest.raises(UserInputError, match="cannot load runner"):
        registry.get("no_such_module:X")


def test_broken_plugin_is_reported_not_raised(monkeypatch):
    class BrokenEntryPoint:
        name, value = "broken", "broken_pkg:Runner"

        def load(self):
            raise ImportError("libfoo.so: cannot open shared object file")

    real = registry._entry_points
    monkeypatch.setattr(registry, "_entry_points", lambda: {**real(), "broken": BrokenEntryPoint()})
    status = {s.name: s for s in registry.statuses()}["broken"]
    assert not status.available and "libfoo.so" in status.reason
    assert status.source == "broken_pkg:Runner"
