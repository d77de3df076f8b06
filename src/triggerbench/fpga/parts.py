"""Resource totals of the FPGA parts the suite targets (for percent-of-part figures)."""

from __future__ import annotations

#: Part totals (CLB LUTs, CLB flip-flops, DSP slices, block RAM in 18K halves of the 36 Kb blocks,
#: UltraRAM blocks) from AMD's product tables: Virtex
#: UltraScale+ VU13P in DS890 (UltraScale Architecture and Product Data Sheet: Overview) and the
#: Alveo U50 (XCU50) in DS965. Keyed by the part's device prefix. The docs search available when
#: this was written held neither table, so these are not re-checked against a fetched copy.
PART_TOTALS = {
    "xcvu13p": {"lut": 1_728_000, "ff": 3_456_000, "dsp": 12_288, "bram": 5_376, "uram": 1_280},
    "xcu50": {"lut": 872_000, "ff": 1_743_000, "dsp": 5_952, "bram": 2_688, "uram": 640},
}


def part_totals(part: str) -> dict[str, int] | None:
    """LUT / FF / DSP / BRAM (18K) / URAM totals of ``part`` where this table has them."""
    name = part.lower()
    return next((totals for device, totals in PART_TOTALS.items() if name.startswith(device)), None)
