"""Quiet by default: the backends' start-up chatter stays off the console (``run --verbose`` shows it).

TensorFlow prints, when its libraries load, absl's "All log messages before absl::InitializeLog()"
banner and INFO lines ("Could not find cuda drivers", "This TensorFlow binary is optimized ...")
that ``TF_CPP_MIN_LOG_LEVEL`` does not reach, then, when it starts, oneDNN's notice and "failed call
to cuInit" on a host without a GPU, which it does; Keras' ONNX export warns about ``np.object``.
None of it says anything about the measurement. ``configure(verbose=False)`` sets the environment
before any backend is imported (an isolated child inherits it), filters those loading lines out of
what TensorFlow's import writes to stderr (everything else passes), and ignores that one warning.
"""

from __future__ import annotations

import importlib.abc
import os
import re
import sys
import tempfile
import warnings
from collections.abc import Callable
from types import ModuleType

#: Read once, when TensorFlow starts: 3 hides its C++ INFO, WARNING and ERROR log lines.
TF_LOG_ENV = "TF_CPP_MIN_LOG_LEVEL"
TF_LOG_QUIET = "3"
#: Keras' ``patch_tf2onnx`` asks numpy for ``np.object``, which numpy 2 answers with this warning.
NP_OBJECT_WARNING = "In the future `np.object` will be defined as the corresponding NumPy scalar"
#: What TensorFlow's native libraries write while they load (absl's format: ``I0000 00:00:...``).
_LOADING_NOISE = re.compile(
    r"WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|[IW]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ \S+:\d+\] .*"
    r"|To enable the following instructions: .* rebuild TensorFlow with the appropriate compiler flags\."
)
#: Imports during which that noise is written, and filtered out of stderr.
_NOISY_IMPORTS = frozenset({"tensorflow"})

_saved_env: dict[str, str | None] = {}


def configure(verbose: bool = False) -> None:
    """Quiet the backends (the default), or leave them as the environment says (``verbose``).

    Call it before any backend is imported. ``verbose=True`` undoes an earlier quiet call: the
    environment goes back to what it was, so ``TF_CPP_MIN_LOG_LEVEL`` is the user's own, if any.
    """
    if verbose:
        _loud()
    else:
        _quiet()


def _quiet() -> None:
    for key, value in _quiet_env().items():
        _saved_env.setdefault(key, os.environ.get(key))
        os.environ[key] = value
    warnings.filterwarnings("ignore", message=re.escape(NP_OBJECT_WARNING), category=FutureWarning)
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)
    if "absl.logging" in sys.modules:
        _quiet_absl(sys.modules["absl.logging"])


def _loud() -> None:
    for key, value in _saved_env.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    _saved_env.clear()
    warnings.filters[:] = [f for f in warnings.filters if not _is_np_object_filter(f)]
    if _FINDER in sys.meta_path:
        sys.meta_path.remove(_FINDER)


def _is_np_object_filter(entry: tuple) -> bool:
    action, message, category = entry[:3]
    return (
        action == "ignore"
        and category is FutureWarning
        and message is not None
        and (message.pattern == re.escape(NP_OBJECT_WARNING))
    )


def _quiet_env() -> dict[str, str]:
    """TensorFlow's log level, and the ``np.object`` warning ignored in child processes too."""
    ignore = f"ignore:{NP_OBJECT_WARNING}:FutureWarning"
    current = _saved_env.get("PYTHONWARNINGS", os.environ.get("PYTHONWARNINGS"))
    return {TF_LOG_ENV: TF_LOG_QUIET, "PYTHONWARNINGS": f"{current},{ignore}" if current else ignore}


def _quiet_absl(module: ModuleType) -> None:
    """Set absl's Python logger (``WARNING:absl:`` lines of TensorFlow, tf2onnx) to errors only."""
    module.set_verbosity(module.ERROR)


def _filtered_stderr(exec_module: Callable[[ModuleType], None], module: ModuleType) -> None:
    """Run ``exec_module`` with fd 2 in a file, then write back what is not loading noise."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no stderr to filter
        exec_module(module)
        return
    with tempfile.TemporaryFile() as log:
        os.dup2(log.fileno(), 2)
        try:
            exec_module(module)
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            log.seek(0)
            lines = log.read().decode("utf-8", "replace").splitlines(keepends=True)
            kept = "".join(line for line in lines if not _LOADING_NOISE.fullmatch(line.rstrip("\r\n")))
            if kept:
                os.write(2, kept.encode("utf-8"))


class _QuietImports(importlib.abc.MetaPathFinder):
    """Wraps the import of TensorFlow (stderr filtered) and of absl's logging (errors only)."""

    def find_spec(self, fullname: str, path, target=None):  # noqa: D102 - the finder protocol
        if fullname not in _NOISY_IMPORTS and fullname != "absl.logging":
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        exec_module = loader.exec_module
        if fullname in _NOISY_IMPORTS:
            # This loader serves this one spec: its own attribute wraps only this import.
            loader.exec_module = lambda module: _filtered_stderr(exec_module, module)
        else:

            def exec_then_quiet(module: ModuleType) -> None:
                exec_module(module)
                _quiet_absl(module)

            loader.exec_module = exec_then_quiet
        return spec


_FINDER = _QuietImports()
