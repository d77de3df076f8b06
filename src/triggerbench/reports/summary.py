"""One record in one row of text: the cells ``run`` prints as it measures and pytest's summary shows.

Each column is defined once here (header and how its cell is read from a record); a caller picks
the columns it shows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

from triggerbench import precision
from triggerbench.reports import format as fmt
from triggerbench.schema import BenchmarkRecord, PowerFigures


def shown_power(record: BenchmarkRecord) -> PowerFigures | None:
    """A measured figure where a meter ran, else the nominal TDP's (its source says nominal-tdp)."""
    return next(
        (p for p in (record.power, record.power_nominal) if p is not None and p.power_mean_w is not None),
        record.power,
    )


def verdict(record: BenchmarkRecord) -> str:
    """LoadGen's verdict (or UNCHECKED) for a measured record, else its status."""
    return record.validity.verdict if record.status == "ok" else record.status.value


def _perf(name: str) -> Callable[[BenchmarkRecord], float | None]:
    return lambda r: getattr(r.performance, name) if r.performance else None


def _energy_per_inference_j(record: BenchmarkRecord) -> float | None:
    power = shown_power(record)
    return power.energy_per_inference_j if power else None


class Column(NamedTuple):
    """A column's header, and its cell for a record."""

    header: str
    cell: Callable[[BenchmarkRecord], str]


COLUMNS: dict[str, Column] = {
    "runner": Column("runner", lambda r: r.runner.name),
    "scenario": Column("scenario", lambda r: r.scenario.name),
    "batch": Column("batch", lambda r: str(r.runner.batch_size)),
    "precision": Column("precision", lambda r: precision.label(r.runner.precision, r.workload.quantization)),
    "verdict": Column("verdict", verdict),
    "throughput": Column("throughput", lambda r: fmt.rate(_perf("throughput_samples_per_s")(r))),
    "p50": Column("p50", lambda r: fmt.seconds(_perf("latency_p50_s")(r))),
    "p99": Column("p99", lambda r: fmt.seconds(_perf("latency_p99_s")(r))),
    "p99.9": Column("p99.9", lambda r: fmt.seconds(_perf("latency_p999_s")(r))),
    "max_abs_diff": Column(
        "max|Δ| vs ref", lambda r: fmt.number(r.accuracy.max_abs_diff if r.accuracy else None)
    ),
    "power": Column("power", lambda r: fmt.si(p.power_mean_w if (p := shown_power(r)) else None, "W")),
    "energy_per_inference": Column("J/inference", lambda r: fmt.si(_energy_per_inference_j(r), "J")),
    "inferences_per_j": Column(
        "inferences/J", lambda r: fmt.number(1 / e if (e := _energy_per_inference_j(r)) else None)
    ),
    "power_source": Column(
        "power source", lambda r: p.source.value if (p := shown_power(r)) else fmt.MISSING
    ),
}


def headers(columns: Sequence[str]) -> list[str]:
    """The header of each column named."""
    return [COLUMNS[c].header for c in columns]


def cells(record: BenchmarkRecord, columns: Sequence[str]) -> list[str]:
    """The record's cell in each column named."""
    return [COLUMNS[c].cell(record) for c in columns]


def aligned(rows: Sequence[Sequence[str]], widths: Sequence[int] | None = None) -> list[str]:
    """Rows of cells as lines, each column padded to its widest cell (or to ``widths``)."""
    widths = widths or [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]


def null_tails(record: BenchmarkRecord) -> list[str]:
    """Why no p99 / p99.9 is shown for ``record`` (too few queries), one line each."""
    perf = record.performance
    if perf is None:
        return []
    return [
        f"no {label}: {perf.null_reasons.get(name, 'not recorded')}"
        for label, name in (("p99", "latency_p99_s"), ("p99.9", "latency_p999_s"))
        if getattr(perf, name) is None
    ]
