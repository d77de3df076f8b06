"""An hls4ml project built elsewhere -> one firmware-report record."""

from __future__ import annotations

import pytest
from test_hls_reports import make_project

from triggerbench.errors import UserInputError
from triggerbench.fpga.ingest import ingest
from triggerbench.models.artifact import sha256_file

# The head of an hls4ml_config.yml as hls4ml 1.3's writer dumps it: the Keras model it saved
# beside the project is a custom-tagged scalar, which a safe YAML loader refuses by default.
CONFIG_YML = """Backend: Vivado
ClockPeriod: 5
HLSConfig:
  Model:
    Precision:
      default: fixed<16,6>
    ReuseFactor: 1
    Strategy: Latency
IOType: io_stream
KerasModel: !keras_model 'hls4mlprj_report_Vivado/keras_model.keras'
OutputDir: hls4mlprj_report_Vivado
Part: xc7z020-clg400-1
ProjectName: fc1_report
Stamp: 9f1ac3a2
Version: 1.0.0
"""


def test_record_is_an_ok_firmware_report(tmp_path):
    root = make_project(tmp_path, cosim=True)
    record = ingest(root)
    assert record.status == "ok" and record.performance is None and record.accuracy is None
    assert (record.scenario.name, record.scenario.harness) == ("firmware-report", "report")
    assert record.scenario.settings["reports"] == "csynth,vivado_synth,cosim"
    assert record.workload.source_format == "hls4ml-project"
    assert record.workload.name == "myproject"  # no hls4ml_config.yml: the top function
    xml = root / "myproject_prj/solution1/syn/report/myproject_csynth.xml"
    assert record.workload.source_sha256 == sha256_file(xml)
    r = record.runner
    assert (r.name, r.backend, r.backend_version, r.device) == (
        "hls4ml",
        "vivado_hls",
        "2020.1",
        "xc7z020-clg400-1",
    )
    assert [f.source for f in record.fpga] == ["hls-csynth", "vivado-synth", "hls-cosim"]
    assert record.fpga[0].dsp == 73 and record.fpga[1].dsp == 66
    assert any("another host" in w for w in record.warnings)


def test_vitis_naming_and_the_hls4ml_config(tmp_path):
    root = make_project(tmp_path, vitis=True, synth=False)
    (root / "hls4ml_config.yml").write_text(CONFIG_YML)
    record = ingest(root)
    assert record.runner.backend == "vitis_hls"
    assert record.workload.name == "fc1_report"
    s = record.runner.settings
    assert (s["iotype"], s["strategy"], s["reusefactor"], s["backend"]) == (
        "io_stream",
        "Latency",
        1,
        "Vivado",
    )
    assert [f.source for f in record.fpga] == ["hls-csynth"] and record.fpga[0].dsp == 73


def test_a_malformed_config_is_one_clear_error(tmp_path):
    root = make_project(tmp_path)
    (root / "hls4ml_config.yml").write_text("a: [unclosed\n")
    with pytest.raises(UserInputError, match="malformed .*hls4ml_config.yml"):
        ingest(root)
