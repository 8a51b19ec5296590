"""Legacy dossiers in the back office (/admin/legacy), through real HTTP: a file checked without
importing anything, its bad lines named one by one, then the checked file imported on confirmation,
once."""

import io
import re
from datetime import timedelta

from onestop.models import Dossier, WorkItem, local_today
from tests.conftest import MODELS, Api, make_user
from tests.web.pages import csrf, sign_in

PASSWORD = "mật-khẩu-quản-trị"
HEADER = "code,procedure,applicant,received,due,current step\n"


def _signed_in(app):
    with app.app_context():
        _, token = make_user("quantri.cu", ("admin",), password=PASSWORD)
    api = Api(app.test_client(), token)
    assert api.upload([MODELS / "review.bpmn", MODELS / "receive-schema.json"]).status_code == 201
    client = app.test_client()
    assert sign_in(client, "quantri.cu", PASSWORD).status_code == 303
    client.api = api
    return client


def _check(client, text, name="cu.csv"):
    token = csrf(client.get("/admin/legacy/"))
    return client.post("/admin/legacy/check", data={"csrf_token": token, "switch_over": local_today().isoformat(),
                                                    "file": (io.BytesIO(text.encode()), name)},
                       content_type="multipart/form-data")


def _days(n):
    return f"{local_today() + timedelta(days=n):%d/%m/%Y}"


def test_a_bad_file_is_reported_line_by_line_and_nothing_is_imported(sqlite_app):
    admin = _signed_in(sqlite_app)
    admin.set_cookie("lang", "en")
    reply = _check(admin, HEADER + f"A-1,review,An,{_days(-3)},{_days(2)},Phê duyệt\n"
                                   f"A-2,nope,Bình,{_days(-3)},{_days(2)},Phê duyệt\n"
                                   f"A-3,review,Cường,hôm qua,{_days(2)},Phê duyệt\n")
    text = reply.get_data(as_text=True)
    assert reply.status_code == 422 and 'id="problems"' in text and "Traceback" not in text
    assert re.findall(r'<tr data-kind="([a-z_]+)"><td>(\d+)</td>', text) == [("unknown_procedure", "3"),
                                                                            ("bad_date", "4")]
    assert "the centre has no published procedure nope" in text
    with sqlite_app.app_context():
        assert Dossier.select().count() == 0


def test_a_checked_file_is_imported_on_confirmation_and_only_once(sqlite_app):
    admin = _signed_in(sqlite_app)
    content = HEADER + f"H15.50.05.13-261120-0001,review,An,{_days(-3)},{_days(2)},Phê duyệt\nB-2,review,Bình,{_days(-3)},{_days(2)},Task_Receive\n"
    reply = _check(admin, content)
    page = reply.get_data(as_text=True)
    assert reply.status_code == 200 and 'id="report"' in page and "<strong>2</strong>" in page
    assert "Dòng 3: B-2" in page  # flagged: not the national layout, kept as given
    with sqlite_app.app_context():
        assert Dossier.select().count() == 0  # a check imports nothing
    fields = dict(re.findall(r'name="(csrf_token|token|file_name|switch_over)" type="hidden" value="([^"]*)"',
                             page.split('id="legacy-import"')[1]))
    assert fields.keys() == {"csrf_token", "token", "file_name", "switch_over"}
    done = admin.post("/admin/legacy/import", data=fields)
    assert done.status_code == 303
    with sqlite_app.app_context():
        assert {d.code: d.switch_over_at is not None for d in Dossier.select()} == {
            "H15.50.05.13-261120-0001": True, "B-2": True}
        assert sorted(w.element_id for w in WorkItem.select()) == ["Task_Approve", "Task_Receive"]
    desk = admin.get("/desk/").get_data(as_text=True)  # on the desk's worklist, its task page opens
    assert "B-2" in desk and "H15.50.05.13-261120-0001" in desk
    with sqlite_app.app_context():
        task_id = WorkItem.get(WorkItem.element_id == "Task_Approve").id
    assert admin.get(f"/desk/tasks/{task_id}").status_code == 200
    shown = admin.api.get("/dossiers/B-2")
    assert shown.status_code == 200 and shown.get_json()["code"] == "B-2"
    assert admin.post("/admin/legacy/import", data=fields).status_code == 303  # again: nothing twice
    with sqlite_app.app_context():
        assert Dossier.select().count() == 2
    forged = dict(fields, token="0" * 64)
    assert admin.post("/admin/legacy/import", data=forged).status_code == 303
    officer = sqlite_app.test_client()
    assert officer.get("/admin/legacy/").status_code in (302, 303, 403)  # not signed in: not for them
