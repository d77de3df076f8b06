"""What the command line shows while it works: the consoles, the progress bar and each long step.

On a terminal, a bar counts the measurements and a status line under it names the long step now
running (an export, an hls4ml compile, a Verilator or Yosys build, in this process or in the
measurement child) with its time so far. Written to a file or pipe (a log), rows are never cut at
80 columns and each step is one line when it starts and one when it ends, so a log is never
silent for minutes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from triggerbench import progress

#: Width of a console writing to a file or pipe: rows whole, never wrapped at 80 columns.
LOG_WIDTH = 10_000


def _console(stderr: bool) -> Console:
    console = Console(stderr=stderr)
    return console if console.is_terminal else Console(stderr=stderr, width=LOG_WIDTH)


console = _console(stderr=False)
err_console = _console(stderr=True)


class _Count(ProgressColumn):
    """``done/total`` for the measurements; nothing for a step, which has no count."""

    def render(self, task: Task) -> Text:
        return Text(f"{task.completed:g}/{task.total:g}" if task.total else "")


class RunDisplay:
    """A bar over the run's measurements and one status line per long step in progress."""

    def __init__(self, bar: Progress, total: int) -> None:
        self._bar = bar
        self._task = bar.add_task("starting", total=total)
        self._steps: dict[str, TaskID] = {}

    def say(self, line: str) -> None:
        """A line above the bar (plain text: no markup, no highlighting, never wrapped)."""
        self._bar.console.print(line, highlight=False, soft_wrap=True, markup=False)

    def doing(self, description: str) -> None:
        """Name the measurement now running."""
        self._bar.update(self._task, description=description)

    def advance(self) -> None:
        """One measurement done."""
        self._bar.advance(self._task)

    def on_step(self, event: progress.ProgressEvent) -> None:
        """The sink for ``progress`` events: a status line while a step runs; in a log, two lines."""
        if not self._bar.console.is_terminal:
            if event.kind == "start":
                self.say(f"  {event.description} ...")
            else:
                state = "failed after" if event.failed else "done in"
                self.say(f"  {event.description}: {state} {event.elapsed_s:.1f} s")
            return
        if event.kind == "start":
            self._steps[event.description] = self._bar.add_task(f"  {event.description}", total=None)
        elif (task := self._steps.pop(event.description, None)) is not None:
            self._bar.remove_task(task)


@contextlib.contextmanager
def run_display(total: int) -> Iterator[RunDisplay]:
    """Show the bar for ``total`` measurements and every step's status until the block ends."""
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        _Count(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        shown = RunDisplay(bar, total)
        with progress.sink(shown.on_step):
            yield shown
