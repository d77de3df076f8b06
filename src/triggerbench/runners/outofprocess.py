"""Parent side of an out-of-process worker: start it, exchange messages, time out, kill.

A worker is any program that serves the protocol of ``triggerbench.workers.protocol`` on its
stdin and stdout (one JSON line per message, then the raw bytes of its arrays), logging to
stderr: the VART worker in its container, and each isolated measurement child. The worker may
run in another Python (a vendor container's), so the command is configurable; a worker that
crashes takes only itself down. The first request, ``hello``, checks that both ends speak the
same protocol version.

Example::

    with WorkerProcess("docker exec -i vitis-ai python3 /workspace/vart_worker.py") as w:
        w.hello()
        w.request("load", xmodel="/workspace/llp.xmodel", n_runners=4)
        outputs = w.request("infer", batch=x)["outputs"]
"""

from __future__ import annotations

import collections
import fcntl
import os
import selectors
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from triggerbench.errors import RunnerError
from triggerbench.progress import ProgressEvent
from triggerbench.workers import protocol
from triggerbench.workers.protocol import PROTOCOL_VERSION, encode_message


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


class ProtocolVersionError(RunnerError):
    """A worker that speaks another protocol version than this triggerbench (a stale copy)."""

    def __init__(self, message: str, worker_version: object) -> None:
        super().__init__(message)
        self.worker_version = worker_version


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


#: What to do about a worker that speaks another protocol version (the VART worker's container
#: keeps the copy it was given).
UPGRADE_HINT = (
    "copy workers/protocol.py and workers/vart_worker.py from this triggerbench "
    f"({Path(protocol.__file__).parent}) into the container"
)


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
    """One worker process and its channel (``workers.protocol``); each request has a deadline.

    A worker that cannot start, exits, hangs past the timeout or answers garbage raises
    ``RunnerError`` with the reason and the tail of its stderr; on a timeout it is killed.
    A worker's ``{"ok": false}`` answer raises ``RunnerError`` too, but the worker lives on.
    ``upgrade_hint`` ends the error for a worker that speaks another protocol version.
    """

    def __init__(
        self,
        command: str | Sequence[str],
        timeout_s: float = 60.0,
        env: Mapping[str, str] | None = None,
        name: str = "worker",
        upgrade_hint: str = UPGRADE_HINT,
    ) -> None:
        self.argv = split_command(command)
        self.timeout_s = timeout_s
        self.name = name
        self.upgrade_hint = upgrade_hint
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

    def hello(self, timeout_s: float | None = None, skip_noise: bool = False) -> dict[str, Any]:
        """The handshake (``request("hello")``): the worker's versions, once both speak one protocol.

        Raises ``ProtocolVersionError``, one line naming both versions, when they differ.
        """
        return self.request(protocol.HELLO, timeout_s=timeout_s, skip_noise=skip_noise)

    def request(
        self,
        op: str,
        timeout_s: float | None = None,
        skip_noise: bool = False,
        on_progress: Callable[[ProgressEvent], None] | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """Send ``{"op": op, **fields}`` and return the worker's answer (``ok`` removed).

        ``skip_noise``: lines before the answer that are not JSON objects (a wrapper script's
        banner, e.g. Vitis AI's setup.sh) are kept with the stderr tail instead of failing.
        Meant for the first request only, when nothing else can be in the stream.
        ``on_progress`` gets each progress event the worker sends before its answer (else they
        are dropped); ``timeout_s`` covers the whole request, progress included. ``hello``
        carries this side's protocol version and checks the worker's (see ``hello``).
        """
        return self.request_bytes(self.encode(op, **fields), op, timeout_s, skip_noise, on_progress)

    @staticmethod
    def encode(op: str, **fields: Any) -> bytes:
        """A request as bytes (arrays included): build it once, send it many times."""
        if op == protocol.HELLO:
            fields = {"protocol": PROTOCOL_VERSION, **fields}
        return encode_message({"op": op, **fields})

    def request_bytes(
        self,
        data: bytes,
        op: str,
        timeout_s: float | None = None,
        skip_noise: bool = False,
        on_progress: Callable[[ProgressEvent], None] | None = None,
    ) -> dict[str, Any]:
        """Send one pre-encoded request (``encode``) and return the answer, arrays decoded."""
        if self._proc is None:
            raise RunnerError(f"{self.name}: not started (or already closed)")
        self._request_timeout_s = self.timeout_s if timeout_s is None else timeout_s
        deadline = time.monotonic() + self._request_timeout_s
        self._write(data, op, deadline)
        while True:
            reply = self._receive(op, deadline, skip_noise)
            if "ok" in reply:
                break
            if protocol.PROGRESS not in reply:
                self.kill()  # the stream cannot be trusted to be in step any more
                raise RunnerError(f"{self.name}: answered {op!r} without an 'ok' field")
            self._progress(reply[protocol.PROGRESS], op, on_progress)
        if op == protocol.HELLO:
            self._check_version(reply)
        if not reply.pop("ok"):
            err = reply.get("error") or {}
            raise RunnerError(f"{self.name} {op}: {err.get('type', 'Error')}: {err.get('message', '')}")
        return reply

    def _receive(self, op: str, deadline: float, skip_noise: bool) -> dict[str, Any]:
        """The next message from the worker, arrays decoded (``skip_noise``: see ``request``)."""
        while True:
            line = self._read_until(lambda: self._buffer.find(b"\n") + 1 or None, deadline, op)
            try:
                header = protocol.decode_header(line)
                break
            except protocol.ProtocolError:
                if not skip_noise:
                    self.kill()
                    raise RunnerError(
                        f"{self.name}: answered {op!r} with a line that is not a JSON object: {line[:200]!r}"
                    ) from None
                self._stderr_tail.append("stdout: " + line.decode("utf-8", "replace").rstrip())

        def read_exact(size: int) -> bytes:
            return self._read_until(lambda: size if len(self._buffer) >= size else None, deadline, op)

        try:
            return protocol.read_arrays(header, read_exact)
        except protocol.ProtocolError as exc:
            self.kill()
            raise RunnerError(f"{self.name} sent a malformed message during {op!r}: {exc}") from None

    def _progress(self, fields: Any, op: str, on_progress: Callable[[ProgressEvent], None] | None) -> None:
        """Hand one progress message to ``on_progress``; one it cannot read ends the worker."""
        try:
            event = ProgressEvent(
                kind=str(fields["kind"]),  # type: ignore[arg-type]
                description=str(fields["description"]),
                elapsed_s=float(fields.get("elapsed_s", 0.0)),
                failed=bool(fields.get("failed", False)),
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            self.kill()
            raise RunnerError(
                f"{self.name} sent a malformed progress message during {op!r}: {str(fields)[:200]}"
            ) from None
        if on_progress is not None:
            try:
                on_progress(event)
            except BaseException:
                self.kill()  # the answer is still in the pipe: the stream would be out of step
                raise

    def _check_version(self, reply: dict[str, Any]) -> None:
        """Raise ``ProtocolVersionError`` unless the ``hello`` reply speaks this protocol version."""
        version = protocol.reply_version(reply)
        if version == PROTOCOL_VERSION or (version is None and not reply.get("ok")):
            return  # the same version, or an error answer that ``request`` reports as such
        shown = version if version is not None else repr(reply.get("protocol"))
        raise ProtocolVersionError(
            f"{self.name} speaks protocol version {shown}, triggerbench speaks {PROTOCOL_VERSION}: "
            + self.upgrade_hint,
            version if version is not None else reply.get("protocol"),
        )

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

    def _read_until(self, ready: Callable[[], int | None], deadline: float, op: str) -> bytes:
        """Read until ``ready()`` says how many buffered bytes make the item; return them."""
        assert self._proc is not None
        while (n := ready()) is None:
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
