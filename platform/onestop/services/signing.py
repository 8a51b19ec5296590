"""Signed results: a dossier's result as a PDF signed with its centre's certificate (PAdES, pyHanko),
carrying the QR code of its public verification page, and the verification itself.

Keys. In the embedded default `onestop keys create [--centre CODE]` makes, under
ONESTOP_HOME/signing/, a local root (root.pem, its key root.key) once, and a centre's signing key and
certificate issued by it (centres/<CODE>/key.pem and cert.pem). A real installation puts the key and
certificate its authority issued in that same folder, or names them with ONESTOP_SIGNING_KEY and
ONESTOP_SIGNING_CERT (for every centre without its own folder), and lists the roots it trusts with
ONESTOP_SIGNING_TRUST_ROOTS. A signature is "valid" when the file is intact and its signer's
certificate chains to one of this installation's roots; a signer from elsewhere is "unknown".

Results. The first download of a dossier's result (once the result is ready) makes it: the PDF the
officer attached at a step, with a verification page appended, or else the standard result filled
from the dossier's data (services.pdfs). It is signed, kept in the attachment store, recorded as a
SignedDocument with the code its QR names, and the same bytes are handed out ever after.
"""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import io
import os
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from cachetools import TTLCache
from peewee import IntegrityError

from ..db import run_write
from ..models import Attachment, Centre, SignedDocument, utcnow
from ..status import WITH_RESULT
from . import attachments, audit, runtime, signature_check
from .attachments import Blob
from .errors import Conflict, Invalid, NotFound, ServiceError

MAX_FACTS = 40


class NoSigningKey(ServiceError):
    """No key to sign with: the embedded default needs `onestop keys create`."""

    status = 503
    code = "no_signing_key"


@dataclass
class Options:
    """Where the keys are and what verification allows (built from the settings by assemble)."""

    folder: Path  # ONESTOP_HOME/signing
    public_url: str = "http://127.0.0.1:8000"  # the address the QR code's verification page is reached at
    key_file: str | None = None
    cert_file: str | None = None  # the signing certificate, optionally followed by its chain
    trust_roots: tuple = ()  # PEM files of the roots trusted besides the local one
    max_bytes: int = 20 * 1024 * 1024  # an uploaded file to verify
    check_seconds: float = 30.0
    check_memory_mb: int = 1024


def options() -> Options:
    found = runtime.current().signing
    if found is None:
        raise RuntimeError("this runtime has no signing options (onestop.assemble.build_runtime makes them)")
    return found


# --- keys -------------------------------------------------------------------------------------------

def _write_private(path: Path, content: bytes):
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(content)


def _certificate(subject, issuer, public_key, signing_key, *, ca: bool, years: int):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    now = utcnow().replace(tzinfo=dt.UTC)
    usage = dict(digital_signature=not ca, content_commitment=not ca, key_encipherment=False,
                 data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
                 encipher_only=False, decipher_only=False)
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=365 * years))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
            .add_extension(x509.KeyUsage(**usage), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .sign(signing_key, hashes.SHA256()))


def _name(common_name: str, organisation: str | None = None):
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    parts = [x509.NameAttribute(NameOID.COUNTRY_NAME, "VN")]
    if organisation:
        parts.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation[:64]))
    parts.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64]))
    return x509.Name(parts)


def _pem(certificate) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return certificate.public_bytes(serialization.Encoding.PEM)


def _key_pem(key) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _local_root(folder: Path):
    """The installation's local root (made once): its key and certificate."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key_path, cert_path = folder / "root.key", folder / "root.pem"
    if key_path.exists() and cert_path.exists():
        return (serialization.load_pem_private_key(key_path.read_bytes(), None),
                x509.load_pem_x509_certificate(cert_path.read_bytes()))
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(f"onestop local root {secrets.token_hex(4)}", "onestop")
    certificate = _certificate(name, name, key.public_key(), key, ca=True, years=20)
    _write_private(key_path, _key_pem(key))
    cert_path.write_bytes(_pem(certificate))
    return key, certificate


@dataclass
class CreatedKeys:
    folder: Path
    subject: str
    created: bool  # False: the centre had its key already (kept)
    root: Path = field(default=None)


def create_keys(centre_code: str | None = None, *, replace: bool = False) -> CreatedKeys:
    """A signing key and certificate for a centre (the default centre without a code), issued by the
    installation's local root (made on first use). A centre's existing key is kept unless `replace`."""
    from cryptography.hazmat.primitives.asymmetric import ec

    if centre_code:
        centre = Centre.get_or_none(Centre.code == centre_code)
    else:
        from .users import ensure_default_centre

        centre = ensure_default_centre()
    if centre is None:
        raise NotFound(f"no centre with code {centre_code!r}")
    folder = options().folder
    target = folder / "centres" / centre.code
    if (target / "key.pem").exists() and not replace:
        return CreatedKeys(target, centre.name, False, folder / "root.pem")
    root_key, root = _local_root(folder)
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = _certificate(_name(centre.name, centre.name), root.subject, key.public_key(), root_key,
                               ca=False, years=5)
    _write_private(target / "key.pem", _key_pem(key))
    (target / "cert.pem").write_bytes(_pem(certificate) + _pem(root))
    return CreatedKeys(target, centre.name, True, folder / "root.pem")


def _key_files(centre) -> tuple[Path, Path]:
    """The key and certificate a centre signs with: its own folder's, else the settings', else the default's."""
    found = options()
    own = found.folder / "centres" / centre.code
    if (own / "key.pem").exists():
        return own / "key.pem", own / "cert.pem"
    if found.key_file and found.cert_file:
        return Path(found.key_file), Path(found.cert_file)
    default = found.folder / "centres" / "default"
    if (default / "key.pem").exists():
        return default / "key.pem", default / "cert.pem"
    raise NoSigningKey("this installation has no signing key: run `onestop keys create`")


def trust_roots() -> list[bytes]:
    """The PEM roots this installation trusts: its local root and those the settings list."""
    found = options()
    paths = [found.folder / "root.pem"] + [Path(p) for p in found.trust_roots]
    return [p.read_bytes() for p in paths if p.is_file()]


# --- signing ----------------------------------------------------------------------------------------

def sign(content: bytes, centre, reason: str) -> tuple[bytes, str]:
    """The PDF signed (PAdES B-B, invisible field: the paper prints its own QR and signer line) with
    the centre's key; (signed bytes, the signer's name)."""
    from pyhanko.keys import load_certs_from_pemder_data, load_private_key_from_pemder_data
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    key_path, cert_path = _key_files(centre)
    try:
        certificates = list(load_certs_from_pemder_data(cert_path.read_bytes()))
        key = load_private_key_from_pemder_data(key_path.read_bytes(), passphrase=None)
    except (OSError, ValueError) as exc:
        raise NoSigningKey("the signing key or certificate cannot be read") from exc
    if not certificates:
        raise NoSigningKey("the signing certificate file holds no certificate")
    signer = signers.SimpleSigner(signing_cert=certificates[0], signing_key=key,
                                  cert_registry=SimpleCertificateStore.from_certs(certificates[1:]))
    meta = signers.PdfSignatureMetadata(field_name="onestop", subfilter=fields.SigSeedSubFilter.PADES,
                                        md_algorithm="sha256", reason=reason, location="Việt Nam")
    out = _outside_an_event_loop(
        lambda: signers.sign_pdf(IncrementalPdfFileWriter(io.BytesIO(content), strict=False), meta, signer=signer))
    name = certificates[0].subject.native.get("common_name", "") if certificates else ""
    return out.getvalue(), str(name)


def _outside_an_event_loop(work):
    """pyHanko's synchronous calls run `asyncio.run`, which refuses to start inside a running event
    loop (an asynchronous server's thread, Playwright's sync API): there, the work runs on a thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return work()
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(work).result()


def signer_name(centre) -> str:
    """The holder's name on the certificate the centre signs with (printed on the paper)."""
    from pyhanko.keys import load_certs_from_pemder_data

    _key, cert_path = _key_files(centre)
    first = next(iter(load_certs_from_pemder_data(cert_path.read_bytes())), None)
    return str(first.subject.native.get("common_name", "")) if first is not None else centre.name


# --- results ----------------------------------------------------------------------------------------

def _new_code() -> str:
    return secrets.token_hex(10).upper()


def verify_url(code: str) -> str:
    return f"{options().public_url.rstrip('/')}/verify/{code}"


def _facts(data) -> list:
    """The dossier's data as (label, value) lines: scalar values, not files nor internal keys."""
    out = []
    for key, value in (data or {}).items():
        if len(out) >= MAX_FACTS or not isinstance(key, str) or key.startswith("_"):
            continue
        if isinstance(value, bool):
            value = "Có" if value else "Không"
        if isinstance(value, (int, float)) or (isinstance(value, str) and value.strip() and len(value) <= 500
                                               and not value.startswith(attachments.REFERENCE)):
            out.append((key.replace("_", " ").strip().capitalize(), str(value)))
    return out


def _uploaded_result(dossier):
    """The latest PDF an officer attached to the dossier at a step (its result), if any."""
    return (Attachment.select().where((Attachment.dossier == dossier.id) & Attachment.task_id.is_null(False)
                                      & (Attachment.media_type == "application/pdf"))
            .order_by(Attachment.id.desc()).first())


def _with_verification_page(content: bytes, appendix: bytes) -> bytes:
    import pikepdf  # loaded by the first result, not by every process that imports this module

    try:
        with pikepdf.open(io.BytesIO(content)) as document, pikepdf.open(io.BytesIO(appendix)) as page:
            document.pages.extend(page.pages)
            out = io.BytesIO()
            document.save(out)
            return out.getvalue()
    except (pikepdf.PdfError, ValueError) as exc:
        raise Invalid("the result file attached to this dossier is not a readable PDF") from exc


def _unsigned_result(dossier, centre, code: str) -> tuple[str, bytes]:
    from . import pdfs  # with fpdf2 and fontTools (~0.3 s, tens of MB): loaded by the first result

    url = verify_url(code)
    uploaded = _uploaded_result(dossier)
    if uploaded is not None:
        appendix = pdfs.verification_page(centre.name, dossier.code, url)
        return uploaded.name, _with_verification_page(attachments.store().read(uploaded.sha256), appendix)
    content = pdfs.ResultContent(centre.name, dossier.code, dossier.procedure.name or dossier.procedure.code,
                                 dossier.applicant or {}, dossier.resolved_at or utcnow(), _facts(dossier.data),
                                 url, signer_name(centre))
    return f"ket-qua-{dossier.code}.pdf", pdfs.result(content)


def result(dossier, actor=None) -> tuple[SignedDocument, bytes]:
    """The dossier's signed result (made and kept on first call): its record and bytes. Conflict
    while the result is not ready."""
    kept = SignedDocument.get_or_none((SignedDocument.dossier == dossier.id) & (SignedDocument.kind == "result"))
    if kept is not None:
        return kept, attachments.store().read(kept.sha256)
    if dossier.status not in WITH_RESULT:
        raise Conflict("the dossier's result is not ready yet")
    centre, code = Centre.get_by_id(dossier.centre_id), _new_code()
    name, content = _unsigned_result(dossier, centre, code)
    signed, signer = sign(content, centre, f"Kết quả giải quyết hồ sơ {dossier.code}")
    name = name if name.lower().endswith(".pdf") else name + ".pdf"
    blob = Blob("result", attachments.safe_name(name), "application/pdf", signed, _sha256(signed))
    attachments.store().put(blob)

    def write():
        row = SignedDocument.create(code=code, centre=centre.id, dossier=dossier.id, kind="result",
                                    name=blob.name, sha256=blob.sha256, size=len(signed), signer=signer[:500],
                                    signed_at=utcnow())
        audit.record("result.signed", actor, dossier=dossier, detail={"code": code, "sha256": blob.sha256})
        return row

    try:
        return run_write(write), signed
    except IntegrityError:  # another request made it meanwhile: theirs is the one
        kept = SignedDocument.get((SignedDocument.dossier == dossier.id) & (SignedDocument.kind == "result"))
        return kept, attachments.store().read(kept.sha256)


def applicant_result(code: str, key: str) -> tuple[SignedDocument, bytes]:
    """The signed result of the citizen's own dossier (its code and lookup key); NotFound otherwise."""
    from .lookup import track

    return result(track(code, key))


def officer_result(actor, code: str) -> tuple[SignedDocument, bytes]:
    """The signed result of a dossier of the actor's centre (made by the actor if it is the first)."""
    from .dossiers import get_dossier

    return result(get_dossier(actor, code), actor)


def _sha256(content: bytes) -> str:
    import hashlib

    return hashlib.sha256(content).hexdigest()


# --- verification -----------------------------------------------------------------------------------

@dataclass
class Verification:
    """What the verification page says of a file: `state` (signature_check.STATES), its signatures,
    and the record of this installation that issued it (same bytes), if any."""

    state: str
    signatures: list
    record: SignedDocument | None = None


def _parsed(verdict: dict) -> list:
    for signature in verdict.get("signatures", []):
        when = signature.get("signed_at")
        signature["signed_at"] = dt.datetime.fromisoformat(when) if when else None
    return verdict.get("signatures", [])


def verify_file(content: bytes) -> Verification:
    """The verdict on an uploaded file (any PDF, signed here or elsewhere): never raises for what it holds."""
    found = options()
    if len(content) > found.max_bytes:
        return Verification("too_large", [])
    if not content:
        return Verification("not_pdf", [])
    verdict = signature_check.check(content, trust_roots(), timeout=found.check_seconds,
                                    memory_mb=found.check_memory_mb)
    record = SignedDocument.get_or_none(SignedDocument.sha256 == _sha256(content))
    return Verification(verdict["state"], _parsed(verdict), record)


# The verdicts on stored documents (immutable, by sha256 and the roots trusted), for a while: a QR
# page opened by many costs one check, not one child process each.
_checked = TTLCache(maxsize=512, ttl=600)
_checked_lock = threading.Lock()


def verify_code(code: str) -> Verification:
    """The verdict on the document a QR code names, checked again from the stored file; NotFound
    for a code this installation never issued."""
    code = (code or "").strip().upper()
    record = SignedDocument.get_or_none(SignedDocument.code == code[:32]) if code.isalnum() else None
    if record is None:
        raise NotFound("no document has this verification code")
    roots = trust_roots()
    key = (record.sha256, _sha256(b"".join(roots)))
    with _checked_lock:
        verdict = _checked.get(key)
    if verdict is None:
        try:
            content = attachments.store().read(record.sha256)
        except OSError:
            return Verification("unreadable", [], record)
        found = options()
        verdict = signature_check.check(content, roots, timeout=found.check_seconds, memory_mb=found.check_memory_mb)
        with _checked_lock:
            _checked[key] = verdict
    return Verification(verdict["state"], _parsed(copy.deepcopy(verdict)), record)
