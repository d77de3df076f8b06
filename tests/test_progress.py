"""Progress events: steps reach the installed sink, and cost nothing without one."""

from __future__ import annotations

import threading

import pytest

from triggerbench import progress
from triggerbench.progress import ProgressEvent


@pytest.fixture(autouse=True)
def _no_sink():
    previous = progress.set_sink(None)
    yield
    progress.set_sink(previous)


def test_a_step_without_a_sink_does_nothing():
    assert progress.step("a") is progress.step("b")  # one shared do-nothing context
    with progress.step("compiling"):
        done = True
    assert done
    with pytest.raises(ValueError, match="inside"), progress.step("failing"):
        raise ValueError("inside")
    progress.emit(ProgressEvent("start", "nobody listens"))  # dropped


def test_steps_reach_the_sink_in_order():
    events: list[ProgressEvent] = []
    with progress.sink(events.append):
        with progress.step("exporting the model"):
            with progress.step("writing the ONNX file"):
                pass
    assert [(e.kind, e.description) for e in events] == [
        ("start", "exporting the model"),
        ("start", "writing the ONNX file"),
        ("end", "writing the ONNX file"),
        ("end", "exporting the model"),
    ]
    assert events[0].elapsed_s == 0.0 and all(e.elapsed_s >= 0 and not e.failed for e in events)
    assert progress.set_sink(None) is None  # the previous (no) sink is back


def test_a_step_left_by_an_exception_ends_failed():
    events: list[ProgressEvent] = []
    with progress.sink(events.append), pytest.raises(RuntimeError):
        with progress.step("building with Verilator"):
            raise RuntimeError("make failed")
    assert [(e.kind, e.failed) for e in events] == [("start", False), ("end", True)]


def test_set_sink_returns_the_previous_one():
    first: list[ProgressEvent] = []
    assert progress.set_sink(first.append) is None
    second: list[ProgressEvent] = []
    assert progress.set_sink(second.append) == first.append
    progress.emit(ProgressEvent("start", "x"))
    assert second == [ProgressEvent("start", "x")] and first == []


def test_the_end_goes_to_the_sink_that_saw_the_start():
    events: list[ProgressEvent] = []
    with progress.sink(events.append), progress.step("long"):
        progress.set_sink(None)
    assert [e.kind for e in events] == ["start", "end"]


def test_steps_in_other_threads_reach_the_sink():
    events: list[ProgressEvent] = []

    def work():
        with progress.step("in a thread"):
            pass

    with progress.sink(events.append):
        thread = threading.Thread(target=work)
        thread.start()
        thread.join()
    assert [e.description for e in events] == ["in a thread", "in a thread"]
