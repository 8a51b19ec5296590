"""What a PDF's signatures say, read in a child process that cannot take the server down.

An uploaded file is untrusted: a crafted PDF can unpack to gigabytes (a compressed object stream)
or loop. `check` hands the bytes to a child process with a memory and CPU limit and a timeout;
whatever happens there, the caller gets a verdict (a dict), never an exception. The child reads the
file with pyHanko and validates every signature: integrity (the signed bytes' digest), the
cryptographic signature, whether the signer's certificate chains to one of the trust roots given,
and what was changed after signing.

Each check's child is forked from a warm checker: an isolated Python process (started on first use,
one per server process) that has already imported pyHanko (about a second of CPU a check saved)
and does nothing but fork. The fork, not the checker, gets the limits and reads the file, and is
killed at its timeout; the checker only relays its answer. A check that finds the checker busy
with another one, or finds it gone, runs in a fresh process as before.

This module imports nothing of onestop, so that the child starts with pyHanko alone.
"""

from __future__ import annotations

import atexit
import io
import json
import logging
import os
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

# States of a verdict, worst last: the page says each in the visitor's language.
STATES = ("valid", "unknown_signer", "altered", "unsigned", "not_pdf", "unreadable", "too_large")


def _limit(memory_mb: int, cpu_seconds: int):
    def apply():
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory_mb * 1024 * 1024,) * 2)
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))

    return apply


def check(content: bytes, roots_pem: list[bytes], *, timeout: float = 30.0, memory_mb: int = 1024) -> dict:
    """The verdict on a file: {"state": one of STATES, "signatures": [...]} (each signature: signer,
    signed_at ISO, intact, valid, trusted, changed_after). Never raises for what the file holds."""
    if not content.lstrip()[:5] == b"%PDF-":
        return {"state": "not_pdf", "signatures": []}
    request = json.dumps({"roots": [r.decode("ascii") for r in roots_pem]}).encode() + b"\n" + content
    answer = _WARM.check(request, timeout, memory_mb)
    if answer is _UNAVAILABLE:  # the warm checker is busy with another check, or could not answer
        answer = _fresh_check(request, timeout, memory_mb)
    if answer is None:  # stopped at its timeout
        return {"state": "too_large", "signatures": []}
    returncode, stdout, memory_error = answer
    try:
        verdict = json.loads(stdout.decode())
    except ValueError:  # killed by a limit (memory, CPU) before it could answer
        return {"state": "too_large" if returncode < 0 or memory_error else "unreadable", "signatures": []}
    return verdict if verdict.get("state") in STATES else {"state": "unreadable", "signatures": []}


def _fresh_check(request: bytes, timeout: float, memory_mb: int) -> tuple[int, bytes, bool] | None:
    """(return code, output, whether it ran out of memory) of a check in a new Python process; None
    when it outlived its timeout."""
    try:
        done = subprocess.run([sys.executable, "-I", "-c", _CHILD.format(path=_package_root(), run="main")],
                              input=request, capture_output=True, timeout=timeout,
                              preexec_fn=_limit(memory_mb, int(timeout) + 1), env=_ENVIRONMENT)
    except subprocess.TimeoutExpired:
        return None
    return done.returncode, done.stdout, b"MemoryError" in done.stderr


# The child imports this very file's package (isolated mode ignores PYTHONPATH and the user's site).
_CHILD = "import sys; sys.path.insert(0, {path!r}); from onestop.services.signature_check import {run}; {run}()"
_ENVIRONMENT = {"PATH": os.environ.get("PATH", ""), "LANG": "C.UTF-8"}


_UNAVAILABLE = object()


class _WarmChecker:
    """The parent's side of the warm checker: one at a time, started on first use (again in a forked
    server process, and after it died)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None
        self._pid = None  # the parent process that started it

    def check(self, request: bytes, timeout: float, memory_mb: int):
        """What `_fresh_check` says, from a fork of the warm checker; _UNAVAILABLE when the checker
        is busy with another check or failed (it is then stopped, and started again next time)."""
        if not self._lock.acquire(blocking=False):
            return _UNAVAILABLE
        try:
            process = self._started()
            order = json.dumps({"size": len(request), "timeout": timeout, "memory_mb": memory_mb}).encode()
            process.stdin.write(order + b"\n" + request)
            process.stdin.flush()
            line = _read_line(process.stdout, timeout + 10)  # the checker stops the fork at timeout
            if line is None:
                raise OSError("the warm checker did not answer")
            reply = json.loads(line)
        except (OSError, ValueError):
            self._stop()
            return _UNAVAILABLE
        finally:
            self._lock.release()
        if reply.get("timed_out"):
            return None
        return reply["returncode"], reply["stdout"].encode("latin-1"), reply["memory_error"]

    def pid(self) -> int | None:
        """The warm checker's process id, if it runs (for the tests)."""
        return self._process.pid if self._process is not None and self._pid == os.getpid() else None

    def _started(self) -> subprocess.Popen:
        if self._pid != os.getpid():  # inherited through fork: the parent's checker is not ours to use
            inherited, self._process, self._pid = self._process, None, os.getpid()
            if inherited is not None:  # this process's copies of its pipes only; the parent keeps its own
                inherited.stdin.close()
                inherited.stdout.close()
        if self._process is not None and self._process.poll() is not None:
            self._stop()  # it died: its pipes are closed before another is started
        if self._process is None:
            self._process = subprocess.Popen(
                [sys.executable, "-I", "-c", _CHILD.format(path=_package_root(), run="serve")],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=_ENVIRONMENT)
        return self._process

    def _stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and self._pid == os.getpid():
            process.kill()
            process.wait()
            process.stdin.close()
            process.stdout.close()

    def close(self) -> None:
        """End the checker: it exits when its input closes."""
        with self._lock:
            process, self._process = self._process, None
            if process is None or self._pid != os.getpid():
                return
            process.stdin.close()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            process.stdout.close()


def _read_line(stream, seconds: float) -> bytes | None:
    """One line from a pipe, or None when none came within ``seconds`` or the pipe closed."""
    deadline = time.monotonic() + seconds
    fd, line = stream.fileno(), b""
    waiting = select.poll()  # not select(): a busy server's descriptors may number over 1024
    waiting.register(fd, select.POLLIN)
    while not line.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or not waiting.poll(left * 1000):
            return None
        chunk = os.read(fd, 65536)
        if not chunk:
            return None
        line += chunk
    return line


_WARM = _WarmChecker()
atexit.register(_WARM.close)


def serve():
    """The warm checker: imports pyHanko once, then for each order on stdin (a JSON line with the
    request's size, timeout and memory limit, then the request) forks a child that applies the
    limits and checks the file, and writes a JSON line of what the child answered on stdout."""
    logging.disable(logging.CRITICAL)
    _import_pyhanko()
    orders = sys.stdin.buffer
    while True:
        line = orders.readline()
        if not line:
            return  # the parent closed its end: it no longer checks anything
        order = json.loads(line)
        request = orders.read(order["size"])
        sys.stdout.write(json.dumps(_forked_check(request, order["timeout"], order["memory_mb"])) + "\n")
        sys.stdout.flush()


def _import_pyhanko():
    import pyhanko.keys  # noqa: F401 - imported before the fork, so that no check pays for it
    import pyhanko.pdf_utils.reader  # noqa: F401
    import pyhanko.sign.validation  # noqa: F401
    import pyhanko_certvalidator  # noqa: F401


def _address_space() -> int:
    """This process's address space in bytes (what RLIMIT_AS limits)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def _forked_check(request: bytes, timeout: float, memory_mb: int) -> dict:
    """What a forked child answered on ``request``, within ``timeout`` seconds and its limits."""
    readable, writable = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: limits first, then the untrusted file
        code = 1
        try:
            os.close(readable)
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):  # the checker's pipes are not the child's to touch
                os.dup2(null, fd)
            _limit(memory_mb, int(timeout) + 1)()
            if _address_space() > memory_mb * 1024 * 1024:
                # The limit counts the whole process, as in a fresh one: what the checker had
                # imported already outgrows it (an allocation would fail, a small one may not).
                raise MemoryError
            verdict = json.dumps(_verdict_of(request)).encode()
            while verdict:
                verdict = verdict[os.write(writable, verdict):]
            code = 0
        except MemoryError:
            code = 3
        finally:
            os._exit(code)
    os.close(writable)
    output, deadline, timed_out = b"", time.monotonic() + timeout, False
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([readable], [], [], left)[0]:
            timed_out = True
            os.kill(pid, signal.SIGKILL)
            break
        chunk = os.read(readable, 65536)
        if not chunk:
            break
        output += chunk
    os.close(readable)
    _, status = os.waitpid(pid, 0)
    if timed_out:
        return {"timed_out": True}
    returncode = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
    return {"returncode": returncode, "stdout": output.decode("latin-1"), "memory_error": returncode == 3}


def _package_root() -> str:
    return str(Path(__file__).resolve().parent.parent.parent)


def main():
    """The child: a JSON line of trust roots, then the PDF, on stdin; the verdict on stdout."""
    logging.disable(logging.CRITICAL)  # pyHanko logs what it refuses; the verdict says it
    sys.stdout.write(json.dumps(_verdict_of(sys.stdin.buffer.read())))


def _verdict_of(request: bytes) -> dict:
    head, _, content = request.partition(b"\n")
    roots = json.loads(head)["roots"]
    from pyhanko.pdf_utils.misc import PdfDecodeLimitError

    try:
        return _verdict(content, roots)
    except (MemoryError, PdfDecodeLimitError):  # a bomb: pyHanko's own bounds, or the child's memory limit
        return {"state": "too_large", "signatures": []}
    except Exception:  # noqa: BLE001 - any failure to read the file is "unreadable", said plainly
        return {"state": "unreadable", "signatures": []}


def _verdict(content: bytes, roots: list[str]) -> dict:
    from pyhanko.keys import load_certs_from_pemder_data
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko_certvalidator import ValidationContext

    trust = [c for pem in roots for c in load_certs_from_pemder_data(pem.encode())]
    reader = PdfFileReader(io.BytesIO(content), strict=False)
    found = reader.embedded_regular_signatures
    if not found:
        return {"state": "unsigned", "signatures": []}
    signatures = [_one(signature, ValidationContext(trust_roots=trust, allow_fetching=False,
                                                    revocation_mode="soft-fail")) for signature in found]
    order = {state: i for i, state in enumerate(STATES)}
    return {"state": max((s["state"] for s in signatures), key=order.__getitem__), "signatures": signatures}


def _padding_untouched(signature) -> bool:
    """Whether the room reserved for the signature holds the signature and zeros only. The bytes of
    /Contents are the one part of a signed PDF the signature cannot cover; a reader ignores what
    follows the DER-encoded CMS, so a byte changed there would otherwise go unnoticed."""
    contents = bytes(signature.sig_object.get_object()["/Contents"])
    if len(contents) < 2 or contents[0] != 0x30:
        return False
    size = contents[1]
    if size & 0x80:
        count = size & 0x7F
        size = 2 + count + int.from_bytes(contents[2:2 + count], "big")
    else:
        size += 2
    return not contents[size:].strip(b"\x00")


def _one(signature, context) -> dict:
    from pyhanko.pdf_utils.misc import PdfError
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.errors import SignatureValidationError
    from pyhanko.sign.validation.status import ModificationLevel, SignatureCoverageLevel

    try:
        status = validate_pdf_signature(signature, context)
    except (SignatureValidationError, PdfError, ValueError, KeyError, TypeError):
        return {"state": "altered", "signer": "", "signed_at": None, "intact": False, "valid": False,
                "trusted": False, "changed_after": True}
    changed = not _padding_untouched(signature) or status.coverage != SignatureCoverageLevel.ENTIRE_FILE and (
        status.modification_level is None or status.modification_level > ModificationLevel.LTA_UPDATES)
    state = "altered" if not (status.intact and status.valid) or changed else (
        "valid" if status.trusted else "unknown_signer")
    subject = status.signing_cert.subject.native if status.signing_cert is not None else {}
    signer = subject.get("common_name") or subject.get("organization_name") or ""
    when = status.signer_reported_dt
    return {"state": state, "signer": str(signer), "organisation": str(subject.get("organization_name") or ""),
            "signed_at": when.isoformat() if when else None, "intact": bool(status.intact),
            "valid": bool(status.valid), "trusted": bool(status.trusted), "changed_after": bool(changed)}
