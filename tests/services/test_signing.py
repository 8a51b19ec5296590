"""Signed results: a dossier's result signed with its centre's certificate (PAdES) and verified
again by anyone: valid, altered by one byte, unsigned, signed by an unknown signer, not a PDF at
all, or a PDF bomb - each a plain verdict, never an exception."""

import asyncio
import contextlib
import contextvars
import io
import os
import signal
import zlib
from concurrent.futures import ThreadPoolExecutor

import pikepdf
import pypdf
import pytest

from onestop.models import Attachment, AuditEvent, Centre, SignedDocument
from onestop.services import attachments, runtime, signature_check, signing
from onestop.services.attachments import Blob
from onestop.services.errors import Conflict
from onestop.status import Status
from tests.support.signed import officer_with_procedure, resolved_dossier, with_keys


@pytest.fixture
def officer(sqlite_app, sqlite_admin_api):
    with sqlite_app.app_context():
        return officer_with_procedure(sqlite_admin_api)


def signed_result(app, officer):
    with app.app_context():
        with_keys()
        dossier = resolved_dossier(officer)
        record, content = signing.result(dossier, officer)
        return dossier, record, content


def flipped(content: bytes, at: int) -> bytes:
    return content[:at] + bytes([content[at] ^ 0x01]) + content[at + 1:]


def test_a_ready_result_is_signed_by_the_centre_and_its_verification_code_says_valid(app, admin_api):
    with app.app_context():
        officer = officer_with_procedure(admin_api)
    dossier, record, content = signed_result(app, officer)
    with app.app_context():
        checked = signing.verify_code(record.code)
        events = [e.action for e in AuditEvent.select().where(AuditEvent.dossier == dossier.id)]
        centre = Centre.default().name
    assert checked.state == "valid" and checked.record.dossier_id == dossier.id
    [signature] = checked.signatures
    assert signature["trusted"] and signature["intact"] and signature["signer"] == centre
    assert signature["signed_at"] is not None
    assert "result.signed" in events
    text = pypdf.PdfReader(io.BytesIO(content)).pages[0].extract_text()
    assert dossier.code in text and "Nguyễn Thị Hường" in text and f"/verify/{record.code}" in text


def test_the_result_is_signed_once_and_the_same_bytes_are_handed_out_ever_after(sqlite_app, officer):
    dossier, record, content = signed_result(sqlite_app, officer)
    with sqlite_app.app_context():
        again, same = signing.result(dossier)
        assert SignedDocument.select().where(SignedDocument.dossier == dossier.id).count() == 1
    assert again.code == record.code and same == content


def test_altering_one_byte_of_the_signed_result_makes_it_altered(sqlite_app, officer):
    _dossier, _record, content = signed_result(sqlite_app, officer)
    with sqlite_app.app_context():
        middle = signing.verify_file(flipped(content, len(content) // 3))
        assert middle.state == "altered" and middle.record is None
        assert middle.signatures[0]["intact"] is False
        for at in (20, len(content) // 2, len(content) - 40):  # anywhere: never "valid", never an exception
            assert signing.verify_file(flipped(content, at)).state in ("altered", "unreadable")


def test_a_byte_changed_in_the_room_left_for_the_signature_is_caught_too(sqlite_app, officer):
    """The zeros after the signature in /Contents are the one part no signature covers."""
    _dossier, _record, content = signed_result(sqlite_app, officer)
    room = content.index(b"/Contents <") + len(b"/Contents <")
    end = content.index(b">", room)
    assert content[end - 20:end] == b"0" * 20  # the padding
    with sqlite_app.app_context():
        assert signing.verify_file(content).state == "valid"
        assert signing.verify_file(flipped(content, end - 10)).state == "altered"


def test_an_unsigned_pdf_is_said_to_be_unsigned(sqlite_app):
    with sqlite_app.app_context():
        assert signing.verify_file(_minimal_pdf()).state == "unsigned"


def test_a_pdf_signed_by_another_installation_is_intact_but_its_signer_unknown(sqlite_app, officer, tmp_path):
    _dossier, _record, content = signed_result(sqlite_app, officer)
    with sqlite_app.app_context():
        ours = runtime.current().signing
        runtime.current().signing = signing.Options(tmp_path / "elsewhere")
        try:
            signing.create_keys()  # another installation: its own local root
            foreign, _name = signing.sign(_minimal_pdf(), Centre.default(), "elsewhere")
        finally:
            runtime.current().signing = ours
        checked = signing.verify_file(foreign)
    assert checked.state == "unknown_signer"
    assert checked.signatures[0]["intact"] and not checked.signatures[0]["trusted"]


def test_a_file_that_is_not_a_pdf_or_is_a_broken_one_gets_a_clear_verdict(sqlite_app):
    with sqlite_app.app_context():
        assert signing.verify_file(b"").state == "not_pdf"
        assert signing.verify_file(b"PK\x03\x04 a zip file").state == "not_pdf"
        assert signing.verify_file(b"%PDF-1.7\n" + bytes(range(256)) * 40).state == "unreadable"


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(sqlite_app):
    with sqlite_app.app_context():
        limit = runtime.current().signing.max_bytes
        assert signing.verify_file(b"%PDF-1.7\n" + b" " * limit).state == "too_large"


def test_a_pdf_bomb_is_refused_as_too_large_and_the_server_goes_on(sqlite_app):
    bomb = pdf_bomb()
    assert len(bomb) < 3 * 1024 * 1024
    with sqlite_app.app_context():
        runtime.current().signing.check_memory_mb = 400
        assert signing.verify_file(bomb).state == "too_large"
        assert signing.verify_file(_minimal_pdf()).state == "unsigned"  # the next check runs as ever


def test_a_result_is_signed_from_inside_a_running_event_loop_too(sqlite_app, officer):
    """pyHanko's synchronous API runs asyncio.run, which an asynchronous server's thread would refuse."""
    with sqlite_app.app_context():
        with_keys()
        dossier = resolved_dossier(officer)

        async def inside_a_loop():
            return signing.result(dossier)

        # A thread of its own (with this context): this process may run a loop already (Playwright's).
        with ThreadPoolExecutor(1) as pool:
            record, _content = pool.submit(contextvars.copy_context().run, asyncio.run, inside_a_loop()).result()
        assert signing.verify_code(record.code).state == "valid"


def test_a_result_is_refused_while_the_dossier_is_still_being_processed(sqlite_app, officer):
    with sqlite_app.app_context():
        with_keys()
        dossier = resolved_dossier(officer, status=Status.PROCESSING)
        with pytest.raises(Conflict):
            signing.result(dossier)


def test_without_a_signing_key_the_result_is_refused_saying_how_to_create_one(sqlite_app, officer):
    with sqlite_app.app_context():
        dossier = resolved_dossier(officer)
        with pytest.raises(signing.NoSigningKey, match="onestop keys create"):
            signing.result(dossier)
        assert SignedDocument.select().count() == 0


def test_an_officers_uploaded_pdf_result_is_signed_with_a_verification_page_appended(sqlite_app, officer):
    with sqlite_app.app_context():
        with_keys()
        dossier = resolved_dossier(officer)
        upload = _minimal_pdf()
        blob = Blob("giay_chung_nhan", "giay-chung-nhan.pdf", "application/pdf", upload, signing._sha256(upload))
        attachments.store().put(blob)
        Attachment.create(centre=dossier.centre_id, dossier=dossier.id, field=blob.field, name=blob.name,
                          media_type=blob.media_type, size=len(upload), sha256=blob.sha256, task_id="t-1")
        record, content = signing.result(dossier)
        assert signing.verify_code(record.code).state == "valid"
    reader = pypdf.PdfReader(io.BytesIO(content))
    assert record.name == "giay-chung-nhan.pdf" and len(reader.pages) == 2
    assert f"/verify/{record.code}" in reader.pages[1].extract_text()


def test_a_code_never_issued_is_not_found(sqlite_app):
    from onestop.services.errors import NotFound

    with sqlite_app.app_context():
        for code in ("0123456789ABCDEF0123", "../../etc/passwd", ""):
            with pytest.raises(NotFound):
                signing.verify_code(code)


def _minimal_pdf() -> bytes:
    out = io.BytesIO()
    with pikepdf.new() as pdf:
        pdf.add_blank_page()
        pdf.save(out)
    return out.getvalue()


def _deflated_padding(start: bytes, spaces: int, chunk: int = 1024 * 1024) -> bytes:
    """One zlib stream of `start` then `spaces` spaces (whole chunks), packed in a few milliseconds
    (packing 1.5 GB of spaces took 5 s of CPU a test): after a full flush the packer starts afresh at
    a byte boundary, so every chunk of spaces packs to the same bytes, made once and repeated; the
    stream's checksum (Adler-32) of a run of one byte has a closed form."""
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)  # raw deflate: header and checksum written here
    first = packer.compress(start) + packer.flush(zlib.Z_FULL_FLUSH)
    spaced = packer.compress(b" " * chunk) + packer.flush(zlib.Z_FULL_FLUSH)
    count = spaces // chunk * chunk
    a, b = zlib.adler32(start) & 0xFFFF, zlib.adler32(start) >> 16
    a, b = (a + 32 * count) % 65521, (b + count * a + 32 * count * (count + 1) // 2) % 65521
    return b"\x78\xda" + first + spaced * (count // chunk) + packer.flush() + ((b << 16) | a).to_bytes(4, "big")


def pdf_bomb(unpacked: int = 1536 * 1024 * 1024) -> bytes:
    """A PDF whose catalogue's form dictionary sits in an object stream that unpacks to `unpacked`
    bytes (the stream is ~1.5 MB): reading the signatures means unpacking it."""
    head = b"3 0 "
    packed = _deflated_padding(head + b"<< /Fields [] >>", unpacked)
    objects = [b"<< /Type /Catalog /Pages 2 0 R /AcroForm 3 0 R >>", b"<< /Type /Pages /Kids [] /Count 0 >>"]
    body, offsets = bytearray(b"%PDF-1.7\n"), []
    for number, obj in enumerate(objects, 1):
        offsets.append(len(body))
        body += b"%d 0 obj\n" % number + obj + b"\nendobj\n"
    offsets.append(len(body))
    body += (b"4 0 obj\n<< /Type /ObjStm /N 1 /First %d /Filter /FlateDecode /Length %d >>\nstream\n"
             % (len(head), len(packed))) + packed + b"\nendstream\nendobj\n"
    xref_at = len(body)
    rows = [b"\x00\x00\x00\x00\xff\xff"] + [b"\x01" + o.to_bytes(4, "big") + b"\x00" for o in offsets[:2]]
    rows += [b"\x02\x00\x00\x00\x04\x00", b"\x01" + offsets[2].to_bytes(4, "big") + b"\x00",
             b"\x01" + xref_at.to_bytes(4, "big") + b"\x00"]
    table = b"".join(rows)
    body += (b"5 0 obj\n<< /Type /XRef /Size 6 /W [1 4 1] /Root 1 0 R /Length %d >>\nstream\n" % len(table)
             + table + b"\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n" % xref_at)
    return bytes(body)


def _slow_pdf(fields: int = 50_000) -> bytes:
    """A valid PDF whose form lists `fields` entries: reading them takes pyHanko about half a second."""
    out = io.BytesIO()
    with pikepdf.new() as pdf:
        pdf.add_blank_page()
        pdf.Root.AcroForm = pdf.make_indirect(pikepdf.Dictionary(Fields=pikepdf.Array([0] * fields)))
        pdf.save(out)
    return out.getvalue()


@pytest.mark.parametrize("checker", ["warm", "fresh"])
def test_a_check_that_outgrows_its_memory_or_time_is_stopped_and_said_too_large(sqlite_app, checker):
    with sqlite_app.app_context(), (signature_check._WARM._lock if checker == "fresh" else contextlib.nullcontext()):
        options = runtime.current().signing
        options.check_memory_mb, options.check_seconds = 40, 30.0
        assert signing.verify_file(_minimal_pdf()).state == "too_large"
        # A check forked from the warm checker starts with pyHanko imported: a file that is slow
        # to read, not the start of Python, outgrows the time.
        options.check_memory_mb, options.check_seconds = 1024, 0.05
        assert signing.verify_file(_slow_pdf()).state == "too_large"
        options.check_seconds = 30.0
        assert signing.verify_file(_minimal_pdf()).state == "unsigned"  # the next check runs as ever


def test_checks_are_forked_from_one_warm_checker_and_a_busy_one_leaves_a_check_to_a_fresh_process(sqlite_app):
    with sqlite_app.app_context():
        assert signing.verify_file(_minimal_pdf()).state == "unsigned"
        checker = signature_check._WARM.pid()
        assert checker is not None
        with ThreadPoolExecutor(2) as pool:  # two at once: one that finds the checker busy runs in a new process
            states = list(pool.map(lambda _: signing.verify_file(_minimal_pdf()).state, range(2)))
        assert states == ["unsigned", "unsigned"]
        with signature_check._WARM._lock:  # busy for certain
            assert signing.verify_file(_minimal_pdf()).state == "unsigned"
        assert signature_check._WARM.pid() == checker


def test_a_warm_checker_that_died_is_started_again_and_no_check_is_lost(sqlite_app):
    with sqlite_app.app_context():
        assert signing.verify_file(_minimal_pdf()).state == "unsigned"
        dead, died = signature_check._WARM.pid(), signature_check._WARM._process
        os.kill(dead, signal.SIGKILL)
        died.wait(10)  # it is gone before the next check looks (under load it often is)
        assert signing.verify_file(_minimal_pdf()).state == "unsigned"
        assert signing.verify_file(_minimal_pdf()).state == "unsigned"
        assert signature_check._WARM.pid() not in (None, dead)
        # Its pipes closed and the process reaped here, not left to the collector (a ResourceWarning
        # at some later test's collection, under warnings as errors).
        assert died.stdin.closed and died.stdout.closed and died.returncode is not None
