"""``triggerbench run`` is quiet by default: TensorFlow's loading lines stay off stderr (``quiet``).

``--verbose`` leaves the backends' logging as the environment says: the test asserts the level
the runner process sees, not that TensorFlow prints something (that depends on its version).
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys

import pytest
from cli_runs import TINY_WINDOWS, tb

from triggerbench import quiet
from triggerbench.runners.base import RunnerDescription
from triggerbench.runners.null import NullRunner

#: What TensorFlow, absl and Keras print on a run when nobody quiets them.
NOISE = ("oneDNN", "absl", "cuInit", "cudart_stub", "np.object", "cpu_feature_guard")


class EnvEchoRunner(NullRunner):
    """The null runner, with the TensorFlow log level its process saw in the record's settings."""

    name = "env-echo"

    def describe(self) -> RunnerDescription:
        seen = os.environ.get(quiet.TF_LOG_ENV, "unset")
        return dataclasses.replace(super().describe(), settings={"tf_log_level": seen})


def _env(tf_log_level: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != quiet.TF_LOG_ENV}  # tox sets it
    return env if tf_log_level is None else {**env, quiet.TF_LOG_ENV: tf_log_level}


def test_a_keras_run_prints_no_backend_chatter(tmp_path):
    args = ["run", "--workload", "standin-cnn", "--runner", "keras", "--out", str(tmp_path), *TINY_WINDOWS]
    proc = tb(*args, cwd=tmp_path, env=_env(None))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert [line for line in proc.stderr.splitlines() if any(n in line for n in NOISE)] == []


@pytest.mark.parametrize(
    ("flags", "user_level", "allowed"),
    [
        ([], "1", {quiet.TF_LOG_QUIET}),  # quiet means quiet, whatever tox or a shell set
        # Verbose: not quieted; unset, or JAX's own default, which it sets when imported.
        (["--verbose"], None, {"unset", "1"}),
        (["-v"], "0", {"0"}),  # verbose: the user's own level
    ],
)
def test_verbose_leaves_tensorflow_s_log_level_alone(tmp_path, flags, user_level, allowed):
    runner = f"{__name__}:EnvEchoRunner"
    args = ["run", *flags, "--workload", "standin-cnn", "--runner", runner, "--out", str(tmp_path)]
    proc = tb(*args, *TINY_WINDOWS, cwd=tmp_path, env=_env(user_level))
    assert proc.returncode == 0, proc.stderr[-3000:]
    [record] = [json.loads(p.read_text()) for p in tmp_path.glob("*.json")]
    assert record["runner"]["settings"]["tf_log_level"] in allowed


def test_quiet_filters_only_the_loading_lines(capfd):
    """Lines TensorFlow writes while loading go; anything else written then stays, in order."""
    written = [
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n",
        "I0000 00:00:1796041968.593262   18628 cudart_stub.cc:31] Could not find cuda drivers on your "
        "machine, GPU will not be used.\n",
        "a real problem\n",
        "E0000 00:00:1796042018.973884   18628 cuda_platform.cc:52] failed call to cuInit: kept (an error)\n",
    ]

    def exec_module(module):
        for line in written:
            os.write(2, line.encode())

    quiet._filtered_stderr(exec_module, sys)
    assert capfd.readouterr().err == written[2] + written[3]


def test_verbose_undoes_quiet(monkeypatch):
    monkeypatch.setenv(quiet.TF_LOG_ENV, "0")
    monkeypatch.delenv("PYTHONWARNINGS", raising=False)
    with pytest.MonkeyPatch.context() as m:
        m.setattr(sys, "meta_path", list(sys.meta_path))
        m.setattr("warnings.filters", [])
        m.setattr(quiet, "_saved_env", {})  # an earlier in-process run's quiet call saved its own
        quiet.configure()
        assert os.environ[quiet.TF_LOG_ENV] == "3" and "np.object" in os.environ["PYTHONWARNINGS"]
        assert quiet._FINDER in sys.meta_path
        quiet.configure(verbose=True)
        assert os.environ[quiet.TF_LOG_ENV] == "0" and "PYTHONWARNINGS" not in os.environ
        assert quiet._FINDER not in sys.meta_path
        import warnings

        assert warnings.filters == []
