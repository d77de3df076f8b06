"""One precision vocabulary: the arithmetic that ran, beside the model's own quantization."""

from __future__ import annotations

import pytest

from triggerbench import precision


def test_fixed_point_names_its_widths_or_says_per_layer() -> None:
    assert precision.fixed_point("fixed<16,6>") == "fixed-point fixed<16,6>"
    assert precision.fixed_point(None) == "fixed-point (per layer, from the model's quantizers)"


@pytest.mark.parametrize(
    ("ran", "quantization", "shown"),
    [
        ("f32", None, "f32"),
        ("f32", "4-bit HGQ2 quantization-aware", "f32 (4-bit HGQ2 quantization-aware, fake-quantized)"),
        ("int8", "int8 QDQ", "int8"),
        ("fixed-point (per layer, from the model's quantizers)", "4-bit HGQ2 quantization-aware",
         "fixed-point (per layer, from the model's quantizers)"),
        (None, None, "unknown"),
    ],
)  # fmt: skip
def test_label(ran, quantization, shown) -> None:
    assert precision.label(ran, quantization) == shown


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("hgq2", "fixed-point (per layer, from the model's quantizers)"),
        ("fixed-point (HGQ2)", "fixed-point (per layer, from the model's quantizers)"),
        ("fixed<32,12,RND_CONV,SAT>", "fixed-point fixed<32,12,RND_CONV,SAT>"),
        ("f16", "f16"),
        (None, None),
    ],
)
def test_older_records_are_upgraded(old, new) -> None:
    assert precision.upgrade(old) == new


def test_shipped_quantized_students_name_their_bits() -> None:
    from triggerbench.models.workloads import WORKLOADS

    assert WORKLOADS["muon-l0-qstudent-4bit"].quantization == "4-bit HGQ2 quantization-aware"
    assert WORKLOADS["muon-l0-qstudent-2bit"].quantization == "2-bit HGQ2 quantization-aware"
    assert WORKLOADS["muon-l0-teacher"].quantization is None
