"""Per-host farm configuration (TOML): resources to add or override, and the VART worker command.

Example ``host.toml`` (``triggerbench hosts --host-config host.toml``, or
``$TRIGGERBENCH_HOST_CONFIG``)::

    # Advertise resources detection cannot see, or take some away (0 removes one).
    [resources]
    alveo-u50 = 1
    vivado = 0

    [vart]
    # The command that starts vart_worker.py inside the Vitis AI container.
    worker_command = "docker exec -i vitis-ai python3 /workspace/vart_worker.py"

    [tools]
    xbutil = "/opt/xilinx/xrt/bin/xbutil"
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from triggerbench.config_files import read_toml_model

#: Environment variable naming the host's configuration file when ``--host-config`` is not given.
HOST_CONFIG_ENV = "TRIGGERBENCH_HOST_CONFIG"

#: What ``dask worker --resources "a=1,b=2"`` can carry: no comma, equals sign or space.
_RESOURCE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def _resource_names(values: dict[str, float]) -> dict[str, float]:
    for name in values:
        if not _RESOURCE_NAME.match(name):
            raise ValueError(f"resource name {name!r} must be letters, digits, '-', '_' or '.'")
    return values


class VartSection(BaseModel):
    """``[vart]``: how this host starts the Vitis AI worker (its container's Python)."""

    model_config = ConfigDict(extra="forbid")

    worker_command: str | None = None


class ToolsSection(BaseModel):
    """``[tools]``: where vendor command-line tools are, when not on PATH under their own name."""

    model_config = ConfigDict(extra="forbid")

    xbutil: str = "xbutil"


class HostConfig(BaseModel):
    """A whole host configuration file."""

    model_config = ConfigDict(extra="forbid")

    resources: Annotated[dict[str, Annotated[float, Field(ge=0)]], AfterValidator(_resource_names)] = Field(
        default_factory=dict
    )
    vart: VartSection = VartSection()
    tools: ToolsSection = ToolsSection()


def load_host_config(path: Path | None = None) -> HostConfig:
    """Read ``path`` (else ``$TRIGGERBENCH_HOST_CONFIG``, else none: the defaults).

    Any problem is one ``UserInputError`` line naming the file and the key.
    """
    if path is None:
        env = os.environ.get(HOST_CONFIG_ENV, "").strip()
        if not env:
            return HostConfig()
        path = Path(env)
    return read_toml_model(path, HostConfig, "host config")
