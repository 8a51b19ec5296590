"""Decided on the spot and digitised once, through real HTTP: an officer takes in a certification of
copies with a paper of two photographed pages (assembled into one PDF) and a paper received only on
paper, a leader sees the decision waiting on their page and gives it, the result is handed over, and
the statistics count the sitting, its minutes and the 766 digitisation share."""

import io
import re
from datetime import date

import pikepdf
from PIL import Image

from onestop.clock import Clock  # the centres' calendar day (Vietnam), as the server reads it
from onestop.models import Centre, Notification, Paper, Sitting, local_today
from onestop.services import stats
from tests.conftest import make_user
from tests.process_models import upload_bundled
from tests.web.pages import csrf, sign_in

COPY = "2.000815"


def png(colour) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 60), colour).save(buffer, "PNG")
    return buffer.getvalue()


def _complete(client, task_id, data, back):
    page = client.get(f"/desk/tasks/{task_id}?back={back}")
    assert page.status_code == 200
    reply = client.post(f"/desk/tasks/{task_id}?back={back}", data={"csrf_token": csrf(page), **data})
    assert reply.status_code == 303, reply.get_data(as_text=True)[:2000]
    return reply


def _ready(client, code):
    page = client.get(f"/desk/sittings/{code}").get_data(as_text=True)
    return re.findall(r'href="/desk/tasks/([0-9a-f-]+)\?back=', page)


def test_an_on_the_spot_dossier_is_taken_in_scanned_decided_by_a_leader_and_returned_in_one_sitting(
        sqlite_app, sqlite_admin_api):
    upload_bundled(sqlite_admin_api, "copy_certification")
    with sqlite_app.app_context():
        make_user("canbo.quay", ("officer",), password="mật-khẩu-quầy")
        make_user("lanhdao@xa.gov.vn", ("leader",), password="mật-khẩu-lđ")
    officer, leader = sqlite_app.test_client(), sqlite_app.test_client()
    sign_in(officer, "canbo.quay", "mật-khẩu-quầy")
    sign_in(leader, "lanhdao@xa.gov.vn", "mật-khẩu-lđ")
    officer.set_cookie("lang", "en")  # the pages' language is the visitor's choice, not Accept-Language
    assert leader.get("/desk/approvals.json").json["pending"] == []

    form = officer.get(f"/desk/intake/{COPY}")
    text = form.get_data(as_text=True)
    assert 'name="paper-0-camera" accept="image/*" capture="environment"' in text
    fields = {"csrf_token": csrf(form), "applicant_name": "Lê Văn Tâm", "applicant_citizen_id": "001203009999",
              "requester_full_name": "Lê Văn Tâm", "requester_citizen_id": "001203009999",
              "papers-0-paper_name": "Bằng tốt nghiệp", "papers-0-pages": "2", "papers-0-copies": "1"}
    unconfirmed = officer.post(f"/desk/intake/{COPY}", content_type="multipart/form-data", data=fields | {
        "paper-0-pages": [(io.BytesIO(png("white")), "trang-1.png")], "paper-0-seen": "1"})
    assert unconfirmed.status_code == 422
    assert "Paper 1: tick that you saw the original and that the copy matches it." in unconfirmed.get_data(as_text=True)
    not_a_photo = officer.post(f"/desk/intake/{COPY}", content_type="multipart/form-data", data=fields | {
        "paper-0-pages": [(io.BytesIO(png("white")), "p1.png"), (io.BytesIO(b"not an image"), "p2.png")],
        "paper-0-seen": "1", "paper-0-matches": "1"})
    assert not_a_photo.status_code == 422
    assert "Paper 1, page 2: the file is not a photo" in not_a_photo.get_data(as_text=True)
    reply = officer.post(f"/desk/intake/{COPY}", content_type="multipart/form-data", data=fields | {
        "paper-0-pages": [(io.BytesIO(png("white")), "trang-1.png"), (io.BytesIO(png("grey")), "trang-2.png")],
        "paper-0-seen": "1", "paper-0-matches": "1", "paper-1-paper": "1"})
    assert reply.status_code == 303 and "/desk/sittings/" in reply.headers["Location"]
    code = reply.headers["Location"].rsplit("/", 1)[-1]

    dossier = sqlite_admin_api.get(f"/dossiers/{code}").json
    [scan] = dossier["attachments"]
    assert scan["media_type"] == "application/pdf"
    pdf = officer.get(f"/desk/dossiers/{code}/files/{scan['id']}")
    with pikepdf.Pdf.open(io.BytesIO(pdf.data)) as assembled:
        assert len(assembled.pages) == 2  # two photographed pages, ONE PDF
    with officer.session_transaction() as kept:
        key = kept["intakes"][code]  # the lookup key printed (in the QR code) on the receipt
    citizen = sqlite_app.test_client()
    assert 'id="papers"' in citizen.post("/track", data={"code": code, "key": key}).get_data(as_text=True)
    with sqlite_app.app_context():
        scanned = Paper.get((Paper.slot == 0) & Paper.attachment.is_null(False)).id
    own = citizen.post(f"/track/{code}/papers/{scanned}", data={"key": key})
    assert own.status_code == 200 and own.data == pdf.data  # the citizen's own dossier, through its tracking
    assert sqlite_app.test_client().post(f"/track/{code}/papers/{scanned}", data={"key": "wrong"}).status_code == 404
    back = f"/desk/sittings/{code}"
    [receive] = _ready(officer, code)
    _complete(officer, receive, {"original_presented": "y", "certifiable": "y", "total_pages": "2"}, back)
    [attest] = _ready(officer, code)
    _complete(officer, attest, {"copies_match": "y", "register_book": "01/2026", "register_entry_number": "15"}, back)

    waiting = leader.get("/desk/approvals.json").json
    [approval] = waiting["pending"]
    assert approval["dossier"] == code and waiting["version"] == approval["task"]
    assert officer.get("/desk/approvals").status_code == 403  # an officer is no leader
    assert approval["task"] in leader.get("/desk/approvals").get_data(as_text=True)
    with sqlite_app.app_context():
        told = Notification.get(Notification.event == "decision_asked")
        assert (told.channel, told.recipient) == ("email", "lanhdao@xa.gov.vn") and code in told.subject
    reply = _complete(leader, approval["task"], {"signer_full_name": "Nguyễn Văn Lãnh", "signed": "y"}, "/desk/approvals")
    assert reply.headers["Location"] == "/desk/approvals"
    assert leader.get("/desk/approvals.json").json["pending"] == []

    [handing] = _ready(officer, code)
    _complete(officer, handing, {"returned_on": Clock().today().isoformat(), "receiver_full_name": "Lê Văn Tâm",
                                 "fee_vnd": "4000"}, back)
    page = officer.get(back).get_data(as_text=True)
    assert 'id="done"' in page and 'id="minutes"' in page
    with sqlite_app.app_context():
        sitting = Sitting.get()
        assert sitting.started_at <= sitting.received_at <= sitting.asked_at <= sitting.decided_at <= sitting.returned_at
        ids = [Centre.get(Centre.code == "default").id]
        spot = stats.on_the_spot(ids, date(2000, 1, 1), date(2100, 1, 1))
        groups = {g["key"]: g for g in stats.index(ids, date(2000, 1, 1), date(2100, 1, 1))}
    assert (spot["sittings"], spot["on_the_spot"]) == (1, 1) and spot["average_minutes"] is not None
    assert groups["digitisation"]["score"] == 11.0  # one paper of two scanned and confirmed
    visitor = sqlite_app.test_client()
    visitor.set_cookie("lang", "en")
    board = visitor.get("/stats").get_data(as_text=True)
    assert re.search(r'id="spot-count">1 / 1<', board)
    assert sqlite_app.test_client().get("/stats.json").json["on_the_spot_this_month"]["on_the_spot"] == 1
    today = local_today()  # the centre's day (Vietnam's), which the report's period is in
    report = sqlite_admin_api.get(f"/stats/report?from={today.replace(day=1)}&to={today}").json
    assert (report["on_the_spot"]["sittings"], report["on_the_spot"]["on_the_spot"]) == (1, 1)

    # a later dossier of the same citizen is offered the kept copy
    again = officer.get(f"/desk/intake/{COPY}?citizen_id=001203009999").get_data(as_text=True)
    assert 'name="paper-0-reuse"' in again
    assert 'name="paper-0-reuse"' not in officer.get(f"/desk/intake/{COPY}?citizen_id=079203001111").get_data(
        as_text=True)
