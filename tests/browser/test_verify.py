"""Signed results in a real browser (Chromium): the citizen downloads the signed result from the
tracking page, its QR code's address opens the verification page that says "valid", and the same
file altered by one byte, uploaded on that page, is said to be altered."""

import threading

import pytest

from onestop.clock import ShiftedClock
from tests.browser.test_journey import CHROMIUM, browser, shots  # noqa: F401  (skips the file without Chromium)
from tests.conftest import _make_app
from tests.services.test_signing import flipped

sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def live(tmp_path_factory, database_templates, engine):
    """The app on SQLite, served over real HTTP, with a dossier whose result is ready: (base, code, key)."""
    from werkzeug.serving import make_server

    from onestop.services import procedures, slips
    from tests.conftest import make_user
    from tests.process_models import bundled_files
    from tests.support.signed import resolved_dossier, with_keys

    folder = tmp_path_factory.mktemp("verify")
    app = _make_app(database_templates.sqlite(folder / "onestop.db"), folder, engine, clock=ShiftedClock())
    with app.app_context():
        officer, _ = make_user("canbo.ky", ("officer", "admin"))
        procedures.upload_procedure(officer, [procedures.Upload(p.name, p.read_bytes())
                                              for p in bundled_files("copy_certification")])
        with_keys()
        dossier = resolved_dossier(officer)
        key = slips.reissue_lookup_key(officer, dossier.code).lookup_key
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", dossier.code, key
    server.shutdown()
    thread.join(5)


def test_the_downloaded_result_is_valid_on_its_qr_page_and_altered_by_one_byte_it_is_said_altered(  # noqa: F811
        live, browser, shots, tmp_path):  # noqa: F811 (test_journey's fixtures)
    base, code, key = live
    context = browser.new_context(viewport={"width": 420, "height": 900}, locale="vi-VN", accept_downloads=True)
    context.add_cookies([{"name": "lang", "value": "en", "url": base}])
    page = context.new_page()
    page.goto(f"{base}/track/{code}?k={key}")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the signed result (PDF)").click()
    saved = tmp_path / "ket-qua.pdf"
    download.value.save_as(saved)
    content = saved.read_bytes()
    assert content.startswith(b"%PDF")

    valid_on_its_qr_page_and_altered_by_one_byte(page, base, content, code, tmp_path, shots, "verify")
    context.close()


def test_the_page_speaks_vietnamese_by_default_and_refuses_a_file_that_is_not_a_pdf(live, browser):  # noqa: F811
    base, _code, _key = live
    context = browser.new_context(locale="vi-VN")
    page = context.new_page()
    page.goto(f"{base}/verify")
    assert page.locator("html").get_attribute("lang") == "vi"
    page.locator("#document").set_input_files(files=[{"name": "bang-tinh.xlsx", "mimeType": "application/pdf",
                                                      "buffer": b"PK\x03\x04 not a pdf"}])
    page.locator("form[enctype] button[type=submit]").click()
    page.wait_for_load_state()
    sync_api.expect(page.locator("#outcome")).to_have_attribute("data-state", "not_pdf")
    context.close()


def text_of(content: bytes) -> str:
    """A PDF's text, page after page."""
    import io

    import pypdf

    return "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(content)).pages)


def valid_on_its_qr_page_and_altered_by_one_byte(page, base, content, code, tmp_path, screenshots, prefix):
    """A signed result's QR page (the address printed beside its QR code) says it is valid and names
    its dossier; the same file with one byte changed, uploaded on /verify, is said to be altered."""
    address = next(line for line in text_of(content).splitlines() if "/verify/" in line).strip()
    assert address.startswith("http://")  # the QR code's address, printed beside it
    page.goto(base + address[address.index("/verify/"):])
    verdict = page.locator("#outcome")
    sync_api.expect(verdict).to_have_attribute("data-state", "valid")
    sync_api.expect(verdict).to_contain_text("The signature is valid and the document has not been altered")
    assert code in page.content()
    screenshots.page(page, f"{prefix}-valid.png")

    altered = tmp_path / "ket-qua-sua.pdf"
    altered.write_bytes(flipped(content, len(content) // 3))
    page.get_by_label("The PDF file of a signed document").set_input_files(str(altered))
    page.get_by_role("button", name="Check the file").click()
    page.wait_for_load_state()
    sync_api.expect(page.locator("#outcome")).to_have_attribute("data-state", "altered")
    sync_api.expect(page.locator("#outcome")).to_contain_text("has been altered since it was signed")
    screenshots.page(page, f"{prefix}-altered.png")
