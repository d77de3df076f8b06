"""Parent side of an out-of-process worker: start it, exchange messages, time out, kill.

A worker is any program that reads one message per request on stdin and answers one message
on stdout (``{"ok": true, ...}`` or ``{"ok": false, "error": {"type", "message"}}``), logging
to stderr. A message is one JSON line followed by the raw C-order bytes of the arrays it lists
under ``"arrays"`` (each such field holds ``{"dtype", "shape"}``); ``vart_worker`` has the
worker side. The worker may run in another Python (a vendor container's), so the command is
configurable; a worker that crashes takes only itself down.

Example::

    with WorkerProcess("docker exec -i vitis-ai python3 /workspace/vart_worker.py") as w:
        w.request("load", xmodel="/workspace/llp.xmodel", n_runners=4)
        outputs = w.request("infer", batch=x)["outputs"]
"""

from __future__ import annotations

import collections
import fcntl
import json
import os
import selectors
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from triggerbench.errors import RunnerError


class WorkerTimeoutError(RunnerError):
    """A worker gave no answer within the request's deadline (it has been killed)."""

    def __init__(self, message: str, stderr_tail: str = "") -> None:
        super().__init__(message)
        self.stderr_tail = stderr_tail


class WorkerDiedError(RunnerError):
    """A worker's process ended while a request was open."""

    def __init__(self, message: str, exit_code: int | None, stderr_tail: str = "") -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.stderr_tail = stderr_tail


def describe_exit(code: int | None) -> str:
    """How a process ended, in words: ``exited with code 3``, ``killed by signal 9 (SIGKILL)``.

    ``subprocess`` gives a process killed by signal N the return code -N.
    """
    if code is None:
        return "ended with an unknown exit status"
    if code >= 0:
        return f"exited with code {code}"
    try:
        name = signal.Signals(-code).name
    except ValueError:
        return f"killed by signal {-code}"
    return f"killed by signal {-code} ({name})"


#: Lines of the worker's stderr kept for error messages.
STDERR_TAIL_LINES = 20


#: Pipe capacity asked of Linux (F_SETPIPE_SZ) so a batch crosses in few wake-ups.
PIPE_BYTES = 1 << 20


def encode_message(message: Mapping[str, Any]) -> bytes:
    """A message as bytes: the JSON line, then the raw bytes of its numpy-array values."""
    header: dict[str, Any] = {}
    payload: list[np.ndarray] = []
    for key, value in message.items():
        if isinstance(value, np.ndarray):
            value = np.ascontiguousarray(value)
            payload.append(value)
            header.setdefault("arrays", []).append(key)
            header[key] = {"dtype": value.dtype.str, "shape": list(value.shape)}
        else:
            header[key] = value
    return b"".join([(json.dumps(header) + "\n").encode("utf-8"), *(a.tobytes() for a in payload)])


def _array_spec(header: Mapping[str, Any], name: str) -> tuple[np.dtype, tuple[int, ...], int]:
    try:
        dtype = np.dtype(header[name]["dtype"])
        shape = tuple(int(d) for d in header[name]["shape"])
    except (KeyError, TypeError, ValueError) as exc:
        raise RunnerError(f"worker sent a malformed array {name!r}: {type(exc).__name__}: {exc}") from None
    return dtype, shape, dtype.itemsize * int(np.prod(shape))


def _grow_pipe(fd: int) -> None:
    """Ask for a larger pipe (Linux); a refusal only costs more wake-ups per batch."""
    if hasattr(fcntl, "F_SETPIPE_SZ"):
        try:
            fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
        except OSError:
            pass  # above /proc/sys/fs/pipe-max-size for this user


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
        self._buffer = bytearray()
        self._read_selector: selectors.BaseSelector | None = None
        self._write_selector: selectors.BaseSelector | None = None
        self._request_timeout_s = timeout_s

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
        self._stdin_fd = self._proc.stdin.fileno()  # type: ignore[union-attr]
        self._stdout_fd = self._proc.stdout.fileno()  # type: ignore[union-attr]
        # Non-blocking writes: a worker that stops reading must not block us past the timeout.
        os.set_blocking(self._stdin_fd, False)
        for fd in (self._stdin_fd, self._stdout_fd):
            _grow_pipe(fd)
        self._read_selector = selectors.DefaultSelector()
        self._read_selector.register(self._stdout_fd, selectors.EVENT_READ)
        self._write_selector = selectors.DefaultSelector()
        self._write_selector.register(self._stdin_fd, selectors.EVENT_WRITE)

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
                self.request(request, timeout_s=min(grace_s, self.timeout_s))
            except RunnerError:
                pass  # it is going away either way
        if self._proc is None:  # the request found it dead and cleaned up
            return
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
        for selector in (self._read_selector, self._write_selector):
            if selector is not None:
                selector.close()
        self._read_selector = self._write_selector = None
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

    def request(
        self, op: str, timeout_s: float | None = None, skip_noise: bool = False, **fields: Any
    ) -> dict[str, Any]:
        """Send ``{"op": op, **fields}`` and return the worker's answer (``ok`` removed).

        ``skip_noise``: lines before the answer that are not JSON objects (a wrapper script's
        banner, e.g. Vitis AI's setup.sh) are kept with the stderr tail instead of failing.
        Meant for the first request only, when nothing else can be in the stream.
        """
        return self.request_bytes(self.encode(op, **fields), op, timeout_s, skip_noise)

    @staticmethod
    def encode(op: str, **fields: Any) -> bytes:
        """A request as bytes (arrays included): build it once, send it many times."""
        return encode_message({"op": op, **fields})

    def request_bytes(
        self, data: bytes, op: str, timeout_s: float | None = None, skip_noise: bool = False
    ) -> dict[str, Any]:
        """Send one pre-encoded request (``encode``) and return the answer, arrays decoded."""
        if self._proc is None:
            raise RunnerError(f"{self.name}: not started (or already closed)")
        self._request_timeout_s = self.timeout_s if timeout_s is None else timeout_s
        deadline = time.monotonic() + self._request_timeout_s
        self._write(data, op, deadline)
        while True:
            reply_line = self._read_until(lambda: self._buffer.find(b"\n") + 1, deadline, op)
            try:
                reply = json.loads(reply_line)
            except ValueError:
                reply = None
            if isinstance(reply, dict) or not skip_noise:
                break
            self._stderr_tail.append("stdout: " + reply_line.decode("utf-8", "replace").rstrip())
        if reply is None:
            self.kill()
            raise RunnerError(
                f"{self.name}: answered {op!r} with a line that is not JSON: {reply_line[:200]!r}"
            )
        if not isinstance(reply, dict) or "ok" not in reply:
            self.kill()  # the stream cannot be trusted to be in step any more
            raise RunnerError(f"{self.name}: answered {op!r} without an 'ok' field")
        for name in reply.pop("arrays", None) or []:
            dtype, shape, size = _array_spec(reply, name)
            raw = self._read_until(lambda size=size: size if len(self._buffer) >= size else 0, deadline, op)
            reply[name] = np.frombuffer(raw, dtype=dtype).reshape(shape)
        if not reply.pop("ok"):
            err = reply.get("error") or {}
            raise RunnerError(f"{self.name} {op}: {err.get('type', 'Error')}: {err.get('message', '')}")
        return reply

    def _write(self, data: bytes, op: str, deadline: float) -> None:
        """Write all of ``data`` without blocking past ``deadline`` (a stuck worker stops reading)."""
        view = memoryview(data)
        while view:
            try:
                sent = os.write(self._stdin_fd, view)
            except BlockingIOError:
                sent = 0
            except OSError:  # EPIPE: the worker is gone
                raise self._died(op) from None
            view = view[sent:]
            if view and not self._wait(selectors.EVENT_WRITE, deadline):
                raise self._timed_out(op)

    def _read_until(self, ready: Callable[[], int], deadline: float, op: str) -> bytes:
        """Read until ``ready()`` says how many buffered bytes make the item; return them."""
        assert self._proc is not None
        while not (n := ready()):
            if not self._wait(selectors.EVENT_READ, deadline):
                raise self._timed_out(op)
            chunk = os.read(self._stdout_fd, PIPE_BYTES)
            if not chunk:
                raise self._died(op)
            self._buffer += chunk
        item = bytes(self._buffer[:n])
        del self._buffer[:n]
        return item

    def _wait(self, event: int, deadline: float) -> bool:
        selector = self._read_selector if event == selectors.EVENT_READ else self._write_selector
        remaining = deadline - time.monotonic()
        return remaining > 0 and bool(selector.select(remaining))  # type: ignore[union-attr]

    def _timed_out(self, op: str) -> RunnerError:
        tail = self.stderr_tail()
        self.kill()
        return WorkerTimeoutError(
            f"{self.name}: no answer to {op!r} within {self._request_timeout_s:g} s; killed it"
            + (f"; stderr tail:\n{tail}" if tail else ""),
            tail,
        )

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
        return WorkerDiedError(
            f"{self.name} {describe_exit(code)} during {op!r}"
            + (f"; stderr tail:\n{tail}" if tail else "; no stderr"),
            code,
            tail,
        )

    def __del__(self) -> None:  # a forgotten worker must not outlive its parent's object
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
