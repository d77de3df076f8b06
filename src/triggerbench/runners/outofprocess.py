"""Parent side of an out-of-process worker: start it, talk JSON lines, time out, kill.

A worker is any program that reads one JSON request per line on stdin and writes one JSON
response per line on stdout (``{"ok": true, ...}`` or ``{"ok": false, "error": {"type",
"message"}}``), logging to stderr. It may run in another Python (a vendor container's), so
the command is configurable; a worker that crashes takes only itself down.

Example::

    with WorkerProcess("docker exec -i vitis-ai python3 /workspace/vart_worker.py") as w:
        w.request("load", xmodel="/workspace/llp.xmodel", n_runners=4)
        reply = w.request("infer", batch=encode_array(x))
"""

from __future__ import annotations

import base64
import collections
import json
import os
import selectors
import shlex
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from triggerbench.errors import RunnerError

#: Lines of the worker's stderr kept for error messages.
STDERR_TAIL_LINES = 20


def encode_array(array: np.ndarray) -> dict[str, Any]:
    """An array in the protocol's JSON form: dtype, shape and the raw C-order bytes in base64."""
    array = np.ascontiguousarray(array)
    return {
        "dtype": array.dtype.str,
        "shape": list(array.shape),
        "b64": base64.b64encode(array.data).decode("ascii"),
    }


def decode_array(obj: Mapping[str, Any]) -> np.ndarray:
    """Rebuild an array sent in the protocol's JSON form."""
    try:
        dtype = np.dtype(obj["dtype"])
        shape = tuple(int(d) for d in obj["shape"])
        raw = base64.b64decode(obj["b64"])
        return np.frombuffer(raw, dtype=dtype).reshape(shape)
    except (KeyError, TypeError, ValueError) as exc:
        raise RunnerError(f"worker sent a malformed array: {type(exc).__name__}: {exc}") from None


def split_command(command: str | Sequence[str]) -> list[str]:
    """A command as argv: strings are split like a POSIX shell would (quotes kept together)."""
    if isinstance(command, str):
        try:
            argv = shlex.split(command)
        except ValueError as exc:
            raise RunnerError(f"cannot parse worker command {command!r}: {exc}") from None
    else:
        argv = [str(a) for a in command]
    if not argv:
        raise RunnerError("worker command is empty")
    return argv


class WorkerProcess:
    """One worker process and its JSON-lines channel; each request has a deadline.

    A worker that cannot start, exits, hangs past the timeout or answers garbage raises
    ``RunnerError`` with the reason and the tail of its stderr; on a timeout it is killed.
    A worker's ``{"ok": false}`` answer raises ``RunnerError`` too, but the worker lives on.
    """

    def __init__(
        self,
        command: str | Sequence[str],
        timeout_s: float = 60.0,
        env: Mapping[str, str] | None = None,
        name: str = "worker",
    ) -> None:
        self.argv = split_command(command)
        self.timeout_s = timeout_s
        self.name = name
        self._env = dict(env) if env is not None else None
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr_tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)
        self._buffer = b""
        self._selector: selectors.BaseSelector | None = None

    # --- life cycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Start the process; a missing program or one refused by the OS is a RunnerError."""
        try:
            self._proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=self._env,
                bufsize=0,
            )
        except OSError as exc:
            raise RunnerError(
                f"{self.name}: cannot start {shlex.join(self.argv)}: {exc.strerror or exc}"
            ) from None
        # Drained by a thread so a chatty worker never blocks on a full stderr pipe.
        threading.Thread(target=self._drain_stderr, args=(self._proc.stderr,), daemon=True).start()
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._proc.stdout, selectors.EVENT_READ)  # type: ignore[arg-type]

    def _drain_stderr(self, pipe) -> None:
        for raw in iter(pipe.readline, b""):
            self._stderr_tail.append(raw.decode("utf-8", "replace").rstrip())
        pipe.close()

    @property
    def pid(self) -> int | None:
        """The worker's process id, while it runs."""
        return self._proc.pid if self._proc else None

    @property
    def running(self) -> bool:
        """Whether the worker process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def stderr_tail(self) -> str:
        """The last lines the worker wrote to stderr."""
        return "\n".join(self._stderr_tail)

    def close(self, request: str | None = "close", grace_s: float = 5.0) -> None:
        """Ask the worker to stop (``request``), then kill it if it has not exited in ``grace_s``."""
        proc = self._proc
        if proc is None:
            return
        if request and proc.poll() is None:
            try:
                self._send({"op": request})
                self._read_line(min(grace_s, self.timeout_s), request)
            except RunnerError:
                pass  # it is going away either way
        try:
            proc.stdin.close()  # type: ignore[union-attr]
            proc.wait(grace_s)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()
        self._finish()

    def kill(self) -> None:
        """Kill the worker now (a hung one cannot be asked)."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self._finish()

    def _finish(self) -> None:
        if self._selector is not None:
            self._selector.close()
            self._selector = None
        if self._proc is not None and self._proc.stdout is not None:
            self._proc.stdout.close()
        self._proc = None

    def __enter__(self) -> WorkerProcess:
        if self._proc is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- requests ---------------------------------------------------------------------------

    def request(self, op: str, timeout_s: float | None = None, **fields: Any) -> dict[str, Any]:
        """Send ``{"op": op, **fields}`` and return the worker's answer (``ok`` removed)."""
        return self.request_line(self.encode(op, **fields), op, timeout_s)

    @staticmethod
    def encode(op: str, **fields: Any) -> bytes:
        """A request as the bytes of one line: build it once, send it many times."""
        return (json.dumps({"op": op, **fields}) + "\n").encode("utf-8")

    def request_line(self, line: bytes, op: str, timeout_s: float | None = None) -> dict[str, Any]:
        """Send one pre-encoded request line (``encode``) and return the answer."""
        if self._proc is None:
            raise RunnerError(f"{self.name}: not started (or already closed)")
        self._write(line, op)
        reply_line = self._read_line(self.timeout_s if timeout_s is None else timeout_s, op)
        try:
            reply = json.loads(reply_line)
        except ValueError:
            self.kill()
            raise RunnerError(
                f"{self.name}: answered {op!r} with a line that is not JSON: {reply_line[:200]!r}"
            ) from None
        if not isinstance(reply, dict) or "ok" not in reply:
            raise RunnerError(f"{self.name}: answered {op!r} without an 'ok' field")
        if not reply.pop("ok"):
            err = reply.get("error") or {}
            raise RunnerError(f"{self.name} {op}: {err.get('type', 'Error')}: {err.get('message', '')}")
        return reply

    def _send(self, obj: Mapping[str, Any]) -> None:
        self._write((json.dumps(obj) + "\n").encode("utf-8"), str(obj.get("op")))

    def _write(self, line: bytes, op: str) -> None:
        assert self._proc is not None and self._proc.stdin is not None
        try:
            self._proc.stdin.write(line)
        except (BrokenPipeError, ValueError, OSError):
            raise self._died(op) from None

    def _read_line(self, timeout_s: float, op: str) -> bytes:
        """Read one line from the worker's stdout, waiting at most ``timeout_s`` in total."""
        assert self._proc is not None and self._selector is not None
        fd = self._proc.stdout.fileno()  # type: ignore[union-attr]
        deadline = time.monotonic() + timeout_s
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._selector.select(remaining):
                tail = self.stderr_tail()
                self.kill()
                raise RunnerError(
                    f"{self.name}: no answer to {op!r} within {timeout_s:g} s; killed it"
                    + (f"; stderr tail:\n{tail}" if tail else "")
                )
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                raise self._died(op)
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    def _died(self, op: str) -> RunnerError:
        """The error for a worker whose pipes closed: its exit code and its last words."""
        code = None
        if self._proc is not None:
            try:
                code = self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                code = self._proc.wait()
        time.sleep(0.05)  # let the stderr thread read the dying words
        tail = self.stderr_tail()
        self._finish()
        how = f"exited with code {code}" if code is not None and code >= 0 else f"was killed ({code})"
        return RunnerError(
            f"{self.name} {how} during {op!r}" + (f"; stderr tail:\n{tail}" if tail else "; no stderr")
        )

    def __del__(self) -> None:  # a forgotten worker must not outlive its parent's object
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
