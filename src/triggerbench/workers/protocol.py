"""The out-of-process protocol, both ends: framing, version handshake, the worker's serve loop.

This one file is the protocol's only implementation. It runs in triggerbench (the parent,
``runners.outofprocess``; the measurement child, ``measure.worker``) and, copied beside
``vart_worker.py``, inside the Vitis AI 1.4.1 container, whose Python is 3.6: standard library
and numpy only, nothing newer than 3.6 (checked by vermin in ``tests/workers``).

Framing: a message is one JSON line (an object), followed by the raw C-order bytes of the numpy
arrays it lists under ``"arrays"``, in that order; each such field holds
``{"dtype": "<f4", "shape": [...]}``. Raw bytes rather than base64 in the JSON: a batch of 64
LLP events is 885 kB, which base64 and ``json.loads`` took ~9 ms to decode on a 2-vCPU host.

Exchange: the parent writes requests (``{"op": ...}``) on the worker's stdin; the worker answers
each with one reply on stdout, ``{"ok": true, ...}`` or
``{"ok": false, "error": {"type": ..., "message": one line}}``, and logs to stderr. Before its
reply it may send any number of progress messages, ``{"progress": {"kind", "description",
"elapsed_s", "failed"}}``, which carry no ``ok``.

Handshake: the first request is ``hello``, carrying the parent's ``protocol`` version; the reply
carries the worker's (and its Python's and numpy's versions). A worker that answers ``hello``
with an unknown-op error, or without a version, predates the handshake: version 1.

Version history (``PROTOCOL_VERSION``):

- 1: framing, ``{"ok": ...}`` replies; ``hello`` optional, version in the reply only.
- 2: ``hello`` handshake (versions both ways, checked by the parent); progress messages.
"""

import json
import os
import platform
import sys
import threading
import traceback

import numpy as np

PROTOCOL_VERSION = 2
#: A worker whose ``hello`` reply has no version (or that has no ``hello``) speaks this one.
UNVERSIONED = 1
HELLO = "hello"
CLOSE = "close"
#: The key of a progress message (a message that is not a reply: it has no ``ok``).
PROGRESS = "progress"

# Progress may be sent from any thread of the worker; a message must never interleave another.
_WRITE_LOCK = threading.Lock()


class RequestError(Exception):
    """A request the worker cannot serve (bad input): answered in one line, no traceback."""


class ProtocolError(RequestError):
    """A message that breaks the framing: not one JSON object, a malformed array, an unknown op."""


def encode_message(message):
    """A message (a dict) as bytes: the JSON line, then the raw bytes of its numpy-array values."""
    header = {}
    payload = []
    for key, value in message.items():
        if isinstance(value, np.ndarray):
            payload.append(value.tobytes())  # C order whatever the layout; 0-d arrays stay 0-d
            header.setdefault("arrays", []).append(key)
            value = {"dtype": value.dtype.str, "shape": list(value.shape)}
        header[key] = value
    return b"".join([(json.dumps(header) + "\n").encode("utf-8")] + payload)


def write_message(stream, message):
    """Write one message (``encode_message``) to a binary stream and flush it."""
    data = encode_message(message)
    with _WRITE_LOCK:
        stream.write(data)
        stream.flush()


def decode_header(line):
    """The JSON object of a message's first line (bytes); ``ProtocolError`` if it is not one."""
    try:
        header = json.loads(line.decode("utf-8"))
    except ValueError as exc:
        raise ProtocolError(f"a message must be one JSON line: {exc}") from None
    if not isinstance(header, dict):
        raise ProtocolError(f"a message must be a JSON object, not {type(header).__name__}")
    return header


def array_specs(header):
    """``(name, dtype, shape, n_bytes)`` of each array the header announces, in wire order."""
    specs = []
    names = header.get("arrays") or []
    if not isinstance(names, list):
        raise ProtocolError("'arrays' must list field names")
    for name in names:
        try:
            dtype = np.dtype(header[name]["dtype"])
            shape = tuple(int(d) for d in header[name]["shape"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ProtocolError(f"malformed array {name!r}: {type(exc).__name__}: {exc}") from None
        if dtype.hasobject or any(d < 0 for d in shape):
            raise ProtocolError(f"malformed array {name!r}: {dtype} {list(shape)}")
        specs.append((name, dtype, shape, dtype.itemsize * int(np.prod(shape))))
    return specs


def read_arrays(header, read_exact):
    """Fill the header's array fields from ``read_exact(n_bytes)``; the message, ``arrays`` dropped."""
    for name, dtype, shape, size in array_specs(header):
        raw = read_exact(size)
        if len(raw) != size:
            raise EOFError(f"stream ended inside array {name!r}")
        header[name] = np.frombuffer(raw, dtype=dtype).reshape(shape)
    header.pop("arrays", None)
    return header


def read_message(stream):
    """Read one message (a dict, arrays as numpy arrays) from a blocking binary stream.

    Returns None at the end of the stream; ``EOFError`` if it ends inside a message.
    """
    line = stream.readline()
    if not line:
        return None
    return read_arrays(decode_header(line), stream.read)


def send_progress(stream, kind, description, elapsed_s=0.0, failed=False):
    """Send a progress message (not a reply): the parent hands it on and keeps waiting."""
    event = {"kind": kind, "description": description, "elapsed_s": elapsed_s, "failed": failed}
    write_message(stream, {PROGRESS: event})


def reply_version(reply):
    """The protocol version of a worker, from its answer to ``hello`` (``ok`` still in it)."""
    if not reply.get("ok"):
        message = str((reply.get("error") or {}).get("message", ""))
        return UNVERSIONED if message.startswith("unknown op") else None
    version = reply.get("protocol", UNVERSIONED)
    return version if isinstance(version, int) else None


def hello_info():
    """What any worker says about itself in its ``hello`` reply."""
    return {
        "protocol": PROTOCOL_VERSION,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pid": os.getpid(),
    }


def _one_line(exc):
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else repr(exc)


def _answer(handlers, request):
    op = request.get("op")
    if op == HELLO:
        reply = hello_info()
        if HELLO in handlers:
            reply.update(handlers[HELLO](request))
        return reply
    if op == CLOSE and CLOSE not in handlers:
        return {}
    if op not in handlers:
        raise ProtocolError(f"unknown op {op!r}")
    return handlers[op](request)


def serve(stdin, out, handlers, name="worker"):
    """Answer requests from ``stdin`` on ``out`` until ``close`` or the end of input.

    ``handlers`` maps each op to ``handler(request) -> reply fields`` (a dict); ``hello`` and
    ``close`` are answered here (a ``hello`` handler adds to the versions; a ``close`` one runs
    before the worker stops). A handler that raises is answered ``{"ok": false, ...}`` and the
    worker serves on: a ``RequestError`` is logged in one line, anything else with its traceback.
    """
    while True:
        op = None
        try:
            request = read_message(stdin)
            if request is None:
                break
            op = request.get("op")
            reply = dict(_answer(handlers, request), ok=True)
        except EOFError:
            break
        except Exception as exc:  # noqa: BLE001 - any failure is answered, the worker lives on
            if isinstance(exc, RequestError):
                sys.stderr.write(f"{name}: {exc}\n")
            else:  # unexpected (VART, numpy): the traceback helps whoever reads the stderr tail
                traceback.print_exc(file=sys.stderr)
            sys.stderr.flush()
            reply = {"ok": False, "error": {"type": type(exc).__name__, "message": _one_line(exc)}}
        write_message(out, reply)
        if op == CLOSE:
            break


def take_stdio():
    """The worker's channel: ``(stdin, replies)``, where replies is a private copy of stdout.

    Vendor libraries (VART, XRT, TensorFlow) print from C++ straight to fd 1; any such line would
    corrupt the framing, so fd 1 is pointed at stderr for everyone else. Close ``replies`` when done.
    """
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    return sys.stdin.buffer, replies


def main(handlers, name="worker"):
    """Serve ``handlers`` on stdin/stdout (``take_stdio``); the exit status, 0."""
    stdin, replies = take_stdio()
    try:
        serve(stdin, replies, handlers, name)
    finally:
        replies.close()
    return 0
