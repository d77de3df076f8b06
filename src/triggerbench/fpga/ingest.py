"""An hls4ml project built elsewhere (a farm host with Vivado/Vitis HLS) -> a firmware-report record."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from triggerbench import environment
from triggerbench.errors import UserInputError
from triggerbench.fpga import hls_reports
from triggerbench.models.artifact import sha256_file
from triggerbench.schema import BenchmarkRecord, RunnerInfo, ScenarioInfo, Status, WorkloadInfo

CONFIG_FILE = "hls4ml_config.yml"
#: Keys of hls4ml's config copied into the record's runner settings.
_CONFIG_KEYS = ("Backend", "IOType", "ClockPeriod")
_MODEL_KEYS = ("Strategy", "ReuseFactor")


def read_config(root: Path) -> dict[str, Any]:
    """hls4ml's ``hls4ml_config.yml``, or ``{}`` when the project has none.

    hls4ml tags the Keras model it saved beside it (``!keras_model path``); the safe loader here
    keeps such tags as plain strings instead of constructing objects.
    """
    import yaml

    path = root / CONFIG_FILE
    if not path.is_file():
        return {}

    class _Loader(yaml.SafeLoader):
        pass

    _Loader.add_multi_constructor("!", lambda loader, suffix, node: loader.construct_scalar(node))
    try:
        data = yaml.load(path.read_text(errors="replace"), Loader=_Loader)  # noqa: S506 - safe subclass
    except yaml.YAMLError as exc:
        raise UserInputError(f"malformed {path}: {str(exc).splitlines()[0]}") from None
    return data if isinstance(data, dict) else {}


def _scalar(value: Any) -> str | int | float | bool | None:
    return value if isinstance(value, str | int | float | bool) or value is None else str(value)


def ingest(project_dir: Path) -> BenchmarkRecord:
    """Read the reports of the hls4ml project at ``project_dir`` into one ok record.

    Raises:
        UserInputError: the folder is not an hls4ml project, or a report is missing or malformed.
    """
    root = Path(project_dir)
    reports = hls_reports.read(root)
    project = reports.project
    config = read_config(root)
    name = str(config.get("ProjectName") or project.top)
    settings: dict[str, Any] = {
        "project_dir": str(root.resolve()),
        "top_function": project.top,
        "solution": project.solution_dir.name,
    }
    settings.update({k.lower(): _scalar(config[k]) for k in _CONFIG_KEYS if k in config})
    model_config = (config.get("HLSConfig") or {}).get("Model") or {}
    settings.update({k.lower(): _scalar(model_config[k]) for k in _MODEL_KEYS if k in model_config})
    found = (
        ["csynth"] + (["vivado_synth"] if reports.vivado_synth else []) + (["cosim"] if reports.cosim else [])
    )
    fpga = hls_reports.figures(reports)
    return BenchmarkRecord(
        status=Status.OK,
        workload=WorkloadInfo(
            name=name,
            task="unknown (read from an hls4ml project)",
            model_name=name,
            source_format="hls4ml-project",
            artifact_format="hls-reports",
            # The C-synthesis XML is what every figure here comes from.
            source_sha256=sha256_file(project.csynth_xml),
            input_shape=[],
            output_shape=[],
        ),
        runner=RunnerInfo(
            name="hls4ml",
            backend=project.tool,
            backend_version=reports.tool_version,
            device=fpga[0].part,
            batch_size=1,
            settings=settings,
        ),
        scenario=ScenarioInfo(
            name="firmware-report", harness="report", settings={"reports": ",".join(found)}
        ),
        fpga=fpga,
        environment=environment.capture(),
        warnings=[
            "figures read from reports written by another host's tools; the environment section "
            "describes the host that read them"
        ],
    )
