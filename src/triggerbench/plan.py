"""Plan files (TOML): what to run and how long to measure, validated with unknown keys refused.

Example ``plan.toml``::

    [run]
    workload = "standin-cnn"            # or several: workloads = ["standin-cnn", "l0-muon-qstudent"]
    runners = ["keras", "onnxruntime", "openvino"]
    scenarios = ["single-stream", "offline"]
    batch_sizes = [1, 256]

    [measure]
    min_duration_s = 5.0
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from triggerbench.config_files import read_toml_model
from triggerbench.measure.job import Harness, Scenario
from triggerbench.measure.settings import MeasureSettings


class RunSection(BaseModel):
    """The ``[run]`` table: the same choices as ``triggerbench run``'s options."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    workload: str | None = None
    #: Several workloads (``triggerbench farm run`` fans out over each); ``workload`` comes first.
    workloads: list[str] = Field(default_factory=list)
    model: Path | None = None
    data: Path | None = None
    runners: list[str] = Field(default_factory=list)
    scenarios: list[Scenario] = Field(default_factory=list)
    batch_sizes: list[Annotated[int, Field(ge=1)]] = Field(default_factory=list)
    harness: Harness = "auto"
    threads: int | None = Field(None, ge=1)
    precision: str = "f32"
    runner_options: dict[str, str | int | float | bool] = Field(default_factory=dict)
    out: Path | None = None
    timeout_s: float = Field(1800.0, gt=0)

    def workload_names(self) -> list[str]:
        """``workload`` and then ``workloads``, each once, in the order given."""
        return list(dict.fromkeys([*([self.workload] if self.workload else []), *self.workloads]))


class Plan(BaseModel):
    """A whole plan file."""

    model_config = ConfigDict(extra="forbid")

    run: RunSection = RunSection()
    measure: MeasureSettings = MeasureSettings()


def load_plan(path: Path) -> Plan:
    """Read and validate a plan file; any problem is one ``UserInputError`` line."""
    return read_toml_model(path, Plan, "plan file")
