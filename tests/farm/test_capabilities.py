"""Host capabilities and host configuration: a fake ``xbutil`` on PATH, TOML files, the CLI."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest
from cli_runs import one_line_error, tb

from triggerbench.errors import UserInputError
from triggerbench.farm import capabilities
from triggerbench.farm.capabilities import AlveoCard, advertised_resources, parse_alveo_cards
from triggerbench.farm.host_config import HostConfig, load_host_config
from triggerbench.farm.resources import format_resources, resources_for

# ``xbutil examine -r host -f JSON -o FILE`` as XRT's ReportHost writes it: the cards under
# system.host.devices, each with its BDF and shell (vbnv); newer XRT adds device_class.
HOST_REPORT = {
    "schema_version": {"schema": "JSON", "creation_date": "Wed Nov 25 00:40:12 2026 GMT"},
    "system": {
        "host": {
            "os": {"sysname": "Linux"},
            "devices": [
                {"bdf": "0000:65:00.1", "vbnv": "xilinx_u50_gen3x16_xdma_201920_3", "is_ready": "true"},
                {
                    "bdf": "0000:b3:00.1",
                    "vbnv": "xilinx_u55c_gen3x16_xdma_3_202210_1",
                    "device_class": "Alveo",
                },
                {"bdf": "0000:c4:00.1", "name": "RyzenAI-npu1", "device_class": "Ryzen"},
            ],
        }
    },
}

FAKE_XBUTIL = """\
import json, os, sys
args = sys.argv[1:]
if args[:3] != ["examine", "-r", "host"] or "-o" not in args:
    sys.exit(f"fake xbutil: unexpected call {sys.argv}")
if os.environ.get("FAKE_XBUTIL_FAIL"):
    sys.exit(os.environ["FAKE_XBUTIL_FAIL"])
out = args[args.index("-o") + 1]
if os.path.exists(out):
    sys.exit(f"ERROR: The output file '{out}' already exists.")
with open(out, "w") as f:
    f.write(os.environ["FAKE_XBUTIL_REPORT"])
"""


@pytest.fixture
def fake_xbutil(tmp_path, monkeypatch) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    exe = bin_dir / "xbutil"
    exe.write_text(f"#!{sys.executable}\n{FAKE_XBUTIL}")
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("FAKE_XBUTIL_REPORT", json.dumps(HOST_REPORT))
    # detect() sets the configured VART command in os.environ: set here, monkeypatch undoes it.
    monkeypatch.setenv("TRIGGERBENCH_VART_WORKER", "")
    return bin_dir


def test_the_host_report_lists_the_alveo_cards_by_model() -> None:
    assert parse_alveo_cards(HOST_REPORT) == [
        AlveoCard("0000:65:00.1", "xilinx_u50_gen3x16_xdma_201920_3", "u50"),
        AlveoCard("0000:b3:00.1", "xilinx_u55c_gen3x16_xdma_3_202210_1", "u55c"),
    ]
    assert parse_alveo_cards({"system": {"host": {"devices": []}}}) == []
    assert parse_alveo_cards({}) == []


def test_fake_xbutil_on_path_gives_the_cards_and_their_resources(fake_xbutil) -> None:
    cards, reason = capabilities.alveo_cards()
    assert [c.model for c in cards] == ["u50", "u55c"] and reason == ""
    caps = capabilities.detect(HostConfig())
    assert caps.resources["alveo-u50"] == 1 and caps.resources["alveo-u55c"] == 1
    assert caps.resources["cpu"] == 1
    assert "vart" not in caps.resources  # cards, but no VART worker configured


def test_a_failing_xbutil_is_a_reason_not_an_error(fake_xbutil, monkeypatch) -> None:
    monkeypatch.setenv("FAKE_XBUTIL_FAIL", "ERROR: No devices found")
    cards, reason = capabilities.alveo_cards()
    assert cards == [] and reason == "xbutil examine exited 1: ERROR: No devices found"


def test_no_xbutil_says_so(tmp_path) -> None:
    cards, reason = capabilities.alveo_cards(str(tmp_path / "absent-xbutil"))
    assert cards == [] and "not on PATH" in reason


def test_each_device_is_one_resource_of_capacity_one() -> None:
    cards = [AlveoCard("0000:65:00.1", "xilinx_u50", "u50"), AlveoCard("0000:66:00.1", "odd-shell", None)]
    found = advertised_resources(["NVIDIA H100", "NVIDIA H100"], cards, {"vivado": "/opt/vivado"}, True)
    assert found == {"cpu": 1, "gpu": 1, "alveo-u50": 1, "alveo-card": 1, "vart": 1, "vivado": 1}
    assert format_resources(found) == "alveo-card=1,alveo-u50=1,cpu=1,gpu=1,vart=1,vivado=1"


def test_the_host_config_adds_overrides_and_removes_resources(fake_xbutil, tmp_path, monkeypatch) -> None:
    config = tmp_path / "host.toml"
    config.write_text(
        '[resources]\ngpu = 1\n"alveo-u55c" = 0\n\n'
        '[vart]\nworker_command = "docker exec -i vitis-ai python3 w.py"\n'
    )
    caps = capabilities.detect(load_host_config(config))
    assert caps.resources == {"alveo-u50": 1, "cpu": 1, "gpu": 1, "vart": 1}
    assert "vart" in caps.enabled_runners
    assert caps.vart_worker_command == "docker exec -i vitis-ai python3 w.py"


def test_the_host_config_comes_from_the_environment_too(tmp_path, monkeypatch) -> None:
    config = tmp_path / "host.toml"
    config.write_text("[resources]\nvivado = 1\n")
    monkeypatch.setenv("TRIGGERBENCH_HOST_CONFIG", str(config))
    assert load_host_config().resources == {"vivado": 1}
    monkeypatch.delenv("TRIGGERBENCH_HOST_CONFIG")
    assert load_host_config() == HostConfig()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[resorces]\ngpu = 1\n", "unknown key 'resorces'; known keys here: resources, vart, tools"),
        ("[vart]\ncommand = 'x'\n", "unknown key 'vart.command'; known keys here: worker_command"),
        ("[resources]\ngpu = -1\n", "resources.gpu: Input should be greater than or equal to 0"),
        ('[resources]\n"gpu,cpu" = 1\n', "must be letters, digits"),
        ("[resources\n", "not valid TOML"),
    ],
)
def test_a_bad_host_config_is_one_line(tmp_path, text: str, message: str) -> None:
    config = tmp_path / "host.toml"
    config.write_text(text)
    with pytest.raises(UserInputError, match="host.toml") as err:
        load_host_config(config)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_each_runner_takes_its_device() -> None:
    assert resources_for("null") == {"cpu": 1}
    assert resources_for("openvino") == {"cpu": 1}
    assert resources_for("rtl") == {"cpu": 1}
    assert resources_for("keras-gpu") == {"gpu": 1}
    assert resources_for("onnxruntime-tensorrt") == {"gpu": 1}
    assert resources_for("vart") == {"vart": 1}
    assert resources_for("mylab.runners:Fpga") == {"cpu": 1}
    assert resources_for("hls4ml") == {"cpu": 1}  # C-simulation needs only g++
    assert resources_for("hls4ml", {"hls4ml.synth": "true"}) == {"cpu": 1, "vitis-hls": 1}
    assert resources_for("hls4ml", {"synth": True, "backend": "Vivado"}) == {"cpu": 1, "vivado": 1}
    assert resources_for("hls4ml", {"rtl.synth": True}) == {"cpu": 1}  # another runner's option


def test_hosts_prints_cards_resources_and_the_worker_line(fake_xbutil, tmp_path) -> None:
    config = tmp_path / "host.toml"
    config.write_text('[vart]\nworker_command = "docker exec -i vitis-ai python3 w.py"\n')
    proc = tb("hosts", "--host-config", str(config), env={**os.environ, "COLUMNS": "200"})
    assert proc.returncode == 0, proc.stderr
    assert "u50 (0000:65:00.1, xilinx_u50_gen3x16_xdma_201920_3)" in proc.stdout
    line = next(line for line in proc.stdout.splitlines() if "dask worker" in line)
    assert line == (
        "TRIGGERBENCH_VART_WORKER='docker exec -i vitis-ai python3 w.py' dask worker tcp://SCHEDULER:8786 "
        '--nworkers 1 --nthreads 4 --resources "alveo-u50=1,alveo-u55c=1,cpu=1,vart=1"'
    )


def test_hosts_with_an_unknown_key_is_one_line(tmp_path) -> None:
    config = tmp_path / "host.toml"
    config.write_text("[resources]\ncpu = 1\n[gpu]\ncount = 2\n")
    one_line_error(tb("hosts", "--host-config", str(config)), "unknown key 'gpu'; known keys here: resources")
