"""Published reference figures (a TOML file), shown beside this host's measurements, never mixed.

The seed talk's figures ship as ``published/seed-talk.toml``; a lab passes its own file with
``triggerbench report --published FILE``. Each entry names the workload it corresponds to and its
citation; power is labelled nominal or measured as the source says.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from triggerbench.errors import UserInputError

SEED_TALK = Path(__file__).parent / "published" / "seed-talk.toml"


class PublishedFigure(BaseModel):
    """One published figure set: a device running one of the workloads."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    workload: str
    label: str
    device: str
    precision: str | None = None
    source: str = Field(min_length=1, description="Citation.")
    throughput_events_per_s: float | None = Field(None, gt=0)
    latency_s: float | None = Field(None, gt=0)
    power_w: float | None = Field(None, gt=0)
    power_source: Literal["measured", "nominal-tdp"] | None = None
    model_memory_bytes: int | None = Field(None, gt=0)
    part: str | None = None
    bram_frac: float | None = Field(None, ge=0)
    dsp_frac: float | None = Field(None, ge=0)
    ff_frac: float | None = Field(None, ge=0)
    lut_frac: float | None = Field(None, ge=0)


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")
    figure: list[PublishedFigure] = Field(default_factory=list)


def load_published(paths: list[Path]) -> list[PublishedFigure]:
    """Read published figures from TOML files; a malformed file is one ``UserInputError`` line."""
    figures: list[PublishedFigure] = []
    for path in paths:
        try:
            raw = tomllib.loads(Path(path).read_text())
        except OSError as exc:
            raise UserInputError(f"published figures {path}: {exc.strerror or exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise UserInputError(f"published figures {path}: not valid TOML ({exc})") from None
        try:
            figures += _File.model_validate(raw).figure
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            raise UserInputError(f"published figures {path}: {where}: {err['msg']}") from None
    return figures


def for_workload(figures: list[PublishedFigure], workload: str) -> list[PublishedFigure]:
    """The published figures of one workload, in file order."""
    return [f for f in figures if f.workload == workload]
