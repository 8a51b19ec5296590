"""What a PDF's signatures say, read in a child process that cannot take the server down.

An uploaded file is untrusted: a crafted PDF can unpack to gigabytes (a compressed object stream)
or loop. `check` hands the bytes to a fresh Python process with a memory and CPU limit and a
timeout; whatever happens there, the caller gets a verdict (a dict), never an exception. The child
reads the file with pyHanko and validates every signature: integrity (the signed bytes' digest),
the cryptographic signature, whether the signer's certificate chains to one of the trust roots
given, and what was changed after signing.

This module imports nothing of onestop, so that the child starts with pyHanko alone.
"""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
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
    try:
        done = subprocess.run([sys.executable, "-I", "-c", _CHILD.format(path=_package_root())], input=request,
                              capture_output=True, timeout=timeout, preexec_fn=_limit(memory_mb, int(timeout) + 1),
                              env={"PATH": os.environ.get("PATH", ""), "LANG": "C.UTF-8"})
    except subprocess.TimeoutExpired:
        return {"state": "too_large", "signatures": []}
    try:
        verdict = json.loads(done.stdout.decode())
    except ValueError:  # killed by a limit (memory, CPU) before it could answer
        return {"state": "too_large" if done.returncode < 0 or b"MemoryError" in done.stderr else "unreadable",
                "signatures": []}
    return verdict if verdict.get("state") in STATES else {"state": "unreadable", "signatures": []}


# The child imports this very file's package (isolated mode ignores PYTHONPATH and the user's site).
_CHILD = "import sys; sys.path.insert(0, {path!r}); from onestop.services.signature_check import main; main()"


def _package_root() -> str:
    return str(Path(__file__).resolve().parent.parent.parent)


def main():
    """The child: a JSON line of trust roots, then the PDF, on stdin; the verdict on stdout."""
    logging.disable(logging.CRITICAL)  # pyHanko logs what it refuses; the verdict says it
    raw = sys.stdin.buffer.read()
    head, _, content = raw.partition(b"\n")
    roots = json.loads(head)["roots"]
    from pyhanko.pdf_utils.misc import PdfDecodeLimitError

    try:
        verdict = _verdict(content, roots)
    except (MemoryError, PdfDecodeLimitError):  # a bomb: pyHanko's own bounds, or the child's memory limit
        verdict = {"state": "too_large", "signatures": []}
    except Exception:  # noqa: BLE001 - any failure to read the file is "unreadable", said plainly
        verdict = {"state": "unreadable", "signatures": []}
    sys.stdout.write(json.dumps(verdict))


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
