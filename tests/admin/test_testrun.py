"""The draft's test page /admin/modeller/<id>/tests: unit tests per case, practice dossiers through the real forms, coverage."""

import io
import re
import zipfile
from pathlib import Path

from onestop.models import Centre, PracticeDossier
from tests.admin.test_back_office import _signed_in
from tests.web.pages import csrf

FOLDER = Path(__file__).resolve().parents[1] / "models" / "spiffarena_branch"


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(FOLDER.iterdir()):
            archive.writestr(f"choose-branch/{path.name}", path.read_bytes())
    return buffer.getvalue()


def _uploaded(client) -> int:
    data = {"csrf_token": csrf(client.get("/admin/onboard/")), "files": [(io.BytesIO(_zip()), "choose-branch.zip")]}
    reply = client.post("/admin/onboard/", data=data, content_type="multipart/form-data")
    assert reply.status_code == 303
    return int(re.search(r"/admin/onboard/(\d+)", reply.headers["Location"]).group(1))


def test_an_uploaded_spiffarena_folder_shows_its_tests_per_case_on_the_review_and_test_pages(sqlite_app):
    admin = _signed_in(sqlite_app, "quantri", ("admin",))
    draft = _uploaded(admin)
    review = admin.get(f"/admin/onboard/{draft}").get_data(as_text=True)
    assert "2 ca đạt, 1 ca không đạt" in review and f"/admin/modeller/{draft}/tests" in review
    assert "chosen_branch: expected &#39;B&#39;, got &#39;A&#39;" in review
    page = admin.get(f"/admin/modeller/{draft}/tests")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="test-results"' in text
    assert re.search(r'data-case="expects_the_wrong_branch">.*?Không đạt.*?Dữ liệu cuối khác', text, re.S)
    assert 'data-element="Script_A" data-state="done"' in text and "6/6 bước" in text
    xml = admin.get(f"/admin/modeller/{draft}/tests/diagram.bpmn")
    assert xml.mimetype == "text/plain" and xml.headers["Content-Disposition"].startswith("attachment")


def test_a_practice_dossier_is_started_stepped_through_its_form_and_saved_as_a_test_case(sqlite_app):
    admin = _signed_in(sqlite_app, "quantri", ("admin",))
    draft = _uploaded(admin)
    base = f"/admin/modeller/{draft}/tests"
    started = admin.post(f"{base}/practice", data={"csrf_token": csrf(admin.get(base))})
    assert started.status_code == 303
    practice_page = started.headers["Location"]
    page = admin.get(practice_page).get_data(as_text=True)
    assert 'data-element="Task_Choose"' in page and 'name="branch"' in page
    action = re.search(r'action="([^"]+/tasks/[^"]+)"', page).group(1)
    refused = admin.post(action, data={"csrf_token": csrf(admin.get(practice_page)), "branch": "c"})
    assert refused.status_code == 422
    done = admin.post(action, data={"csrf_token": csrf(admin.get(practice_page)), "branch": "a"})
    assert done.status_code == 303
    finished = admin.get(practice_page).get_data(as_text=True)
    assert "Đã kết thúc" in finished and 'id="save-case"' in finished
    saved = admin.post(f"{practice_page}/case", data={"csrf_token": csrf(admin.get(practice_page)), "name": "nhánh A"})
    assert saved.status_code == 303
    ran = admin.post(f"{base}/run", data={"csrf_token": csrf(admin.get(base))})
    assert ran.status_code == 303
    assert re.search(r'data-case="nhánh A">.*?Đạt', admin.get(base).get_data(as_text=True), re.S)
    with sqlite_app.app_context():
        assert PracticeDossier.select().count() == 1


def test_another_centres_administrator_finds_no_such_page_and_an_officer_is_refused(sqlite_app):
    admin = _signed_in(sqlite_app, "quantri", ("admin",))
    draft = _uploaded(admin)
    with sqlite_app.app_context():
        other = Centre.create(code="xa-khac", name="Xã Khác", level="commune")
    stranger = _signed_in(sqlite_app, "nguoila", ("admin",), centre=other)
    assert stranger.get(f"/admin/modeller/{draft}/tests").status_code == 404
    officer = _signed_in(sqlite_app, "canbo", ("officer",))
    assert officer.get(f"/admin/modeller/{draft}/tests").status_code == 403
