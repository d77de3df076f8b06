import tomllib

import pytest

from triggerbench.power.tdp import nominal_tdp, table
from triggerbench.reports.published import SEED_TALK


@pytest.mark.parametrize(
    ("model", "name", "tdp_w"),
    [
        ("Intel(R) Xeon(R) CPU E5-2698 v3 @ 2.30GHz", "Intel Xeon E5-2698 v3", 135),
        ("Intel(R) Xeon(R) CPU E5-2698 v4 @ 2.20GHz", "Intel Xeon E5-2698 v4", 135),
        ("Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz", "Intel Xeon Gold 6248", 150),
        ("AMD EPYC 7763 64-Core Processor", "AMD EPYC 7763", 280),
        ("Tesla V100-PCIE-16GB", "NVIDIA V100 PCIe", 250),
        ("Tesla V100-SXM2-32GB", "NVIDIA V100 SXM2", 300),
        ("NVIDIA A100-PCIE-40GB", "NVIDIA A100 PCIe 40GB", 250),
        ("NVIDIA A100-SXM4-80GB", "NVIDIA A100 SXM4", 400),
        ("NVIDIA H100 PCIe", "NVIDIA H100 PCIe", 350),
        ("NVIDIA H100 80GB HBM3", "NVIDIA H100 SXM5", 700),
        ("NVIDIA H200", "NVIDIA H200 SXM", 700),
        ("NVIDIA H200 NVL", "NVIDIA H200 NVL", 600),
        ("NVIDIA L4", "NVIDIA L4", 72),
        ("Tesla T4", "NVIDIA T4", 70),
        ("xilinx_u50_gen3x16_xdma_201920_3", "AMD Alveo U50", 75),
        ("xilinx_u55c_gen3x16_xdma_3_202210_1", "AMD Alveo U55C", 150),
        ("xilinx_u250_gen3x16_xdma_4_1_202210_1", "AMD Alveo U250", 225),
        ("xilinx_u280_gen3x16_xdma_1_202211_1", "AMD Alveo U280", 225),
    ],
)
def test_detected_model_strings_match_their_row(model, name, tdp_w):
    row, reason = nominal_tdp(model)
    assert row is not None and reason == ""
    assert (row.name, row.tdp_w) == (name, tdp_w)


@pytest.mark.parametrize(
    "model",
    [
        "Intel(R) Xeon(R) Processor",  # a VM's generic name: no part number
        "AMD EPYC 7B13",  # a cloud part not in the table
        "AMD EPYC",
        "NVIDIA Tesla V100",  # no form factor: PCIe 250 W and SXM2 300 W differ
        "xilinx_u50lv_gen3x4_xdma_2_202010_1",  # U50LV is not the U50
        "NVIDIA RTX A4000",  # "A4000" must not match the T4 / L4 rows
    ],
)
def test_a_model_not_in_the_table_gives_no_figure_and_the_reason(model):
    assert nominal_tdp(model) == (None, f"no nominal TDP for {model!r} in triggerbench's table")


def test_no_model_detected_gives_no_figure():
    assert nominal_tdp(None) == (None, "device model not detected: no nominal TDP")
    assert nominal_tdp("  ")[0] is None


def test_the_seed_talks_devices_get_the_talks_nominal_figures():
    talk = tomllib.loads(SEED_TALK.read_text())["figure"]
    nominal = {f["device"]: f["power_w"] for f in talk if f.get("power_source") == "nominal-tdp"}
    # the talk's V100 names no form factor; its 250 W is the PCIe part's
    detected = {
        "Intel Xeon E5-2698": "Intel(R) Xeon(R) CPU E5-2698 v3 @ 2.30GHz",
        "NVIDIA Tesla V100": "Tesla V100-PCIE-32GB",
        "AMD Alveo U50 (DPUCAHX8H)": "xilinx_u50_gen3x16_xdma_201920_3",
    }
    assert set(nominal) == set(detected)
    for device, model in detected.items():
        assert nominal_tdp(model)[0].tdp_w == nominal[device], device
    assert nominal_tdp("Intel Xeon E5-2698")[0].tdp_w == 135  # the talk's own string
    assert nominal_tdp("AMD Alveo U50 (DPUCAHX8H)")[0].tdp_w == 75


def test_every_row_cites_its_source():
    assert all(r.source and r.tdp_w > 0 for r in table())
