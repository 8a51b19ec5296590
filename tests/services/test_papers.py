"""Papers digitised once: pages assembled into one PDF, the officer's confirmation required, the
copy kept in the citizen's store of the province and offered again, and Decision 766's digitisation
share counted from the papers scanned and confirmed over the papers received."""

import io
from datetime import date

import pikepdf
import pytest
from PIL import Image

from onestop.models import Centre, CitizenDocument, Paper
from onestop.services import dossiers, papers, stats
from onestop.services.attachments import Upload
from onestop.services.errors import Invalid
from tests.conftest import make_user
from tests.process_models import upload_bundled


@pytest.fixture(autouse=True)
def _copy_procedure(admin_api):
    upload_bundled(admin_api, "copy_certification")

COPY = "2.000815"  # bundled: certification of copies, decided on the spot, two papers in its record
APPLICATION = {"requester_full_name": "Lê Văn Tâm", "requester_citizen_id": "001203009999",
               "papers": [{"paper_name": "Bằng tốt nghiệp", "pages": 2, "copies": 1}]}


def png(colour, alpha=False, size=(40, 60)) -> bytes:
    image = Image.new("RGBA" if alpha else "RGB", size, colour)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def pages_of(content) -> int:
    with pikepdf.Pdf.open(io.BytesIO(content)) as pdf:
        return len(pdf.pages)


def received(officer, citizen_id="001203009999", given=()):
    """A dossier of the copy procedure received at the counter with these papers."""
    prepared = papers.prepare(officer, _metadata(officer), citizen_id, list(given))
    dossier = dossiers.start_dossier(officer, COPY, APPLICATION | {"requester_citizen_id": citizen_id},
                                     {"name": "Lê Văn Tâm", "citizen_id": citizen_id}, channel="counter")
    papers.record(officer, dossier, citizen_id, prepared)
    return dossier


def _metadata(officer):
    from onestop.services import procedures

    return procedures.catalogue_entry(officer, COPY)[1].metadata


def test_two_photographed_pages_become_one_pdf_of_two_pages_and_a_png_with_alpha_is_flattened(app):
    with app.app_context():
        upload, pages = papers.assemble(0, [Upload("p1.png", png("white")), Upload("p2.png", png("red", alpha=True))])
    assert pages == 2 and upload.content.startswith(b"%PDF") and pages_of(upload.content) == 2


def test_a_phone_photo_larger_than_an_a4_page_at_300_dpi_is_scaled_down_to_it(app):
    from onestop.services.papers import A4_LONG_SIDE

    with app.app_context():
        upload, pages = papers.assemble(0, [Upload("photo.png", png("white", size=(3000, 4000)))])
    with pikepdf.Pdf.open(io.BytesIO(upload.content)) as pdf:
        [image] = list(pdf.pages[0].get_images().values())
        assert pages == 1 and max(image.Width, image.Height) == A4_LONG_SIDE and image.Filter == "/DCTDecode"


def test_a_page_that_is_not_a_photo_or_a_pdf_is_refused_naming_the_paper_and_page(app):
    with app.app_context(), pytest.raises(Invalid, match="paper 1, page 2"):
        papers.assemble(0, [Upload("p1.png", png("white")), Upload("note.txt", b"hello, not a scan")])


def test_a_scan_without_the_officers_confirmation_is_refused(app):
    with app.app_context():
        officer, _ = make_user("canbo.scan", ("officer",))
        with pytest.raises(Invalid, match="copy matches"):
            papers.prepare(officer, _metadata(officer), "001203009999",
                           [papers.SlotInput(0, [Upload("p1.png", png("white"))], original_seen=True)])


def test_the_digitisation_share_is_papers_scanned_and_confirmed_over_papers_received(app):
    with app.app_context():
        officer, _ = make_user("canbo.766", ("officer",))
        received(officer, given=[
            papers.SlotInput(0, [Upload("p1.png", png("white")), Upload("p2.png", png("grey"))],
                             original_seen=True, confirmed=True),
            papers.SlotInput(1, paper_only=True, original_seen=True)])
        ids = [Centre.get(Centre.code == "default").id]
        groups = {g["key"]: g for g in stats.index(ids, date(2000, 1, 1), date(2100, 1, 1))}
        assert Paper.select().count() == 2
    # one of two papers digitised: half the 22 points (before: 22, the dossier had "at least one file")
    assert groups["digitisation"]["score"] == 11.0
    assert groups["digitisation"]["counts"] == {"papers_received": 2, "papers_digitised": 1}


def test_a_kept_copy_is_offered_to_the_same_citizen_in_the_province_and_refused_to_another(app):
    with app.app_context():
        officer, _ = make_user("canbo.keep", ("officer",))
        received(officer, given=[papers.SlotInput(0, [Upload("p1.png", png("white"))], original_seen=True,
                                                  confirmed=True)])
        kept = papers.kept_for(officer, "001203009999")
        assert [(d.kind, d.pages) for d in kept] == [("component", 1)]
        assert papers.kept_for(officer, "079203001111") == []
        with pytest.raises(Invalid, match="not this citizen's"):
            papers.prepare(officer, _metadata(officer), "079203001111",
                           [papers.SlotInput(0, reuse=kept[0].id, original_seen=True, confirmed=True)])
        again = received(officer, given=[papers.SlotInput(0, reuse=kept[0].id, original_seen=True, confirmed=True)])
        reused = Paper.get(Paper.dossier == again.id)
        assert reused.reused_from_id == kept[0].id and reused.attachment.sha256 == kept[0].sha256
        assert CitizenDocument.select().count() == 1  # reused, not kept twice


def test_a_kept_copy_is_out_of_reach_of_an_officer_of_another_province(app):
    from onestop.services.errors import NotFound

    with app.app_context():
        officer, _ = make_user("canbo.here", ("officer",))
        received(officer, given=[papers.SlotInput(0, [Upload("p1.png", png("white"))], original_seen=True,
                                                  confirmed=True)])
        [kept] = papers.kept_for(officer, "001203009999")
        assert papers.document_for(officer, kept.id)[1].startswith(b"%PDF")
        elsewhere = Centre.create(code="other-province", name="Tỉnh khác", level="province")
        stranger, _ = make_user("canbo.elsewhere", ("officer",), centre=elsewhere)
        assert papers.kept_for(stranger, "001203009999") == []
        with pytest.raises(NotFound):
            papers.document_for(stranger, kept.id)


def returned(officer):
    """A dossier of the copy procedure received at the counter and returned (its steps are the
    workflow's business, not the store's)."""
    from onestop.models import Dossier, utcnow
    from onestop.status import Status

    dossier = received(officer)
    Dossier.update(status=Status.RETURNED, resolved_at=utcnow(), returned_at=utcnow()).where(
        Dossier.id == dossier.id).execute()
    return Dossier.get_by_id(dossier.id)


def test_a_returned_dossiers_signed_result_is_kept_in_the_citizens_store_once(app):
    from onestop.models import SignedDocument
    from onestop.services import signing
    from tests.support.signed import with_keys

    with app.app_context():
        officer, _ = make_user("canbo.result", ("officer",))
        with_keys()
        dossier = returned(officer)
        assert papers.keep_results(officer, dossier) == 1
        assert papers.keep_results(officer, dossier) == 0  # once
        signed = SignedDocument.get(SignedDocument.dossier == dossier.id)
        [kept] = papers.kept_for(officer, "001203009999")
        assert (kept.kind, kept.name, kept.sha256, kept.media_type) == ("result", signed.name, signed.sha256,
                                                                         "application/pdf")
        _document, content = papers.document_for(officer, kept.id)
        assert signing.verify_file(content).state == "valid"  # the very bytes the citizen downloads


def test_without_a_signing_key_a_return_keeps_what_it_can_and_is_not_refused(app):
    with app.app_context():
        officer, _ = make_user("canbo.nokey", ("officer",))
        assert papers.keep_results(officer, returned(officer)) == 0
        assert papers.kept_for(officer, "001203009999") == []
