"""What a scenario harness hands back: figures for the record, before the record is built."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from triggerbench.schema import PerformanceFigures, TriggerFigures, Validity

#: One query: runs one batch of ``batch_size`` samples synchronously (outputs on the host).
QueryFn = Callable[[], Any]


@dataclass(frozen=True)
class ScenarioOutcome:
    """Figures measured by one scenario run."""

    harness: str
    performance: PerformanceFigures | None
    validity: Validity
    settings: dict[str, Any] = field(default_factory=dict)
    trigger: TriggerFigures | None = None
    warnings: list[str] = field(default_factory=list)
    #: Queries the harness kept issued at once (1: one at a time, synchronously).
    requests_in_flight: int = 1
