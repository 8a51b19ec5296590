"""The queue's pages through the real app: the kiosk and the phone take numbers, the ticket page
and the hall screen poll with ETags (304 while nothing was called), the officer's counter calls and
serves straight into the counter intake with the ticket attached, bookings, the figures page, and
the same over real HTTP from `onestop serve`."""

import re
import urllib.request
from datetime import timedelta
from urllib.error import HTTPError

from onestop.models import Centre, QueueTicket, local_today
from onestop.services import deadlines, queue
from tests.conftest import make_user
from tests.support.servers import embedded_server, user
from tests.web.pages import csrf, sign_in


def _floor(app):
    with app.app_context():
        admin = make_user("quantri", ("admin",))[0]
        deadlines.set_office_hours(admin, [("00:00", "23:59")], None)
        for day in (local_today(), local_today() + timedelta(days=1)):
            deadlines.set_day(admin, day, True, "test: open")
        civil = queue.save_group(admin, "A", "Hộ tịch", slot_minutes=60, slot_capacity=2)
        queue.save_counter(admin, "3", "Quầy 3", [civil.id])
        make_user("canbo1", ("officer",), password="mật-khẩu-1")
        return civil.id


def _take(client, path, group_id, priority=""):
    page = client.get(path)
    assert page.status_code == 200
    return client.post(path, data={"csrf_token": csrf(page), "group": str(group_id), "priority": priority})


def _officer(app):
    officer = app.test_client()
    assert sign_in(officer, "canbo1", "mật-khẩu-1").status_code == 303
    with app.app_context():
        counter_id = queue.counters(Centre.default().id)[0].id
    return officer, counter_id


def _press(officer, counter_id, button):
    page = officer.get(f"/desk/counter/{counter_id}")
    return officer.post(f"/desk/counter/{counter_id}/{button}", data={"csrf_token": csrf(page)})


def test_a_citizen_takes_a_number_at_the_kiosk_and_follows_it(sqlite_app):
    group_id = _floor(sqlite_app)
    client = sqlite_app.test_client()
    kiosk = client.get("/queue/default/kiosk", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Hộ tịch" in kiosk and 'name="priority" value="elderly"' in kiosk
    taken = _take(client, "/queue/default/kiosk", group_id)
    assert taken.status_code == 303 and "kiosk=1" in taken.headers["Location"]
    page = client.get(taken.headers["Location"], headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert 'id="ticket-number">A001<' in page and 'id="ticket-ahead">0<' in page


def test_the_ticket_and_the_screen_answer_304_until_a_call_then_show_it(sqlite_app):
    group_id = _floor(sqlite_app)
    client = sqlite_app.test_client()
    ticket_page = _take(client, "/queue/default/take", group_id).headers["Location"]
    poll = ticket_page + ".json"
    first = client.get(poll)
    assert first.status_code == 200 and first.json["state"] == "waiting" and first.json["label"] == "A001"
    etag = first.headers["ETag"]
    assert client.get(poll, headers={"If-None-Match": etag}).status_code == 304
    screen = client.get("/queue/default/screen.json")
    assert screen.json["calls"] == [] and client.get(
        "/queue/default/screen.json", headers={"If-None-Match": screen.headers["ETag"]}).status_code == 304

    officer, counter_id = _officer(sqlite_app)
    assert _press(officer, counter_id, "open").status_code == 303
    assert _press(officer, counter_id, "next").status_code == 303

    moved = client.get(poll, headers={"If-None-Match": etag})
    assert moved.status_code == 200 and (moved.json["state"], moved.json["counter"]) == ("called", "3")
    shown = client.get("/queue/default/screen.json", headers={"If-None-Match": screen.headers["ETag"]})
    assert shown.status_code == 200 and [(c["label"], c["counter"]) for c in shown.json["calls"]] == [("A001", "3")]
    hall = client.get("/queue/default/screen").get_data(as_text=True)
    assert '<td class="number">A001</td><td class="counter">3</td>' in hall and "queue.js" in hall


def test_serving_a_ticket_leads_into_intake_and_the_dossier_keeps_the_ticket(sqlite_admin_api, sqlite_app):
    from tests.process_models import upload_bundled

    upload_bundled(sqlite_admin_api, "construction_permit_commune")
    group_id = _floor(sqlite_app)
    _take(sqlite_app.test_client(), "/queue/default/take", group_id, priority="pregnant")
    officer, counter_id = _officer(sqlite_app)
    _press(officer, counter_id, "open")
    _press(officer, counter_id, "next")
    served = _press(officer, counter_id, "serve")
    assert served.status_code == 303 and "/desk/intake?ticket=" in served.headers["Location"]
    listing = officer.get(served.headers["Location"]).get_data(as_text=True)
    assert 'id="intake-ticket"' in listing
    link = re.search(r'href="(/desk/intake/1\.013225\?ticket=\d+)"', listing).group(1)
    form = officer.get(link)
    received = officer.post(link, data={"csrf_token": csrf(form), "applicant_name": "Phạm Thị Hoa"})
    assert received.status_code == 303
    with sqlite_app.app_context():
        ticket = QueueTicket.get()
        assert ticket.dossier is not None and ticket.dossier.channel == "counter" and ticket.state == "serving"


def test_an_intake_for_a_ticket_not_at_the_officers_counter_is_not_found(sqlite_app):
    group_id = _floor(sqlite_app)
    _take(sqlite_app.test_client(), "/queue/default/take", group_id)
    officer, _ = _officer(sqlite_app)
    with sqlite_app.app_context():
        ticket_id = QueueTicket.get().id
    assert officer.get(f"/desk/intake?ticket={ticket_id}").status_code == 404


def test_a_no_show_is_skipped_then_called_again_from_the_counter_page(sqlite_app):
    group_id = _floor(sqlite_app)
    _take(sqlite_app.test_client(), "/queue/default/take", group_id)
    officer, counter_id = _officer(sqlite_app)
    _press(officer, counter_id, "open")
    _press(officer, counter_id, "next")
    _press(officer, counter_id, "recall")
    _press(officer, counter_id, "skip")
    page = officer.get(f"/desk/counter/{counter_id}").get_data(as_text=True)
    call_again = re.search(r'action="(/desk/counter/\d+/call/\d+)"', page.split('id="skipped"')[1]).group(1)
    assert officer.post(call_again, data={"csrf_token": csrf(officer.get(f"/desk/counter/{counter_id}"))}).status_code == 303
    with sqlite_app.app_context():
        assert (QueueTicket.get().state, QueueTicket.get().calls) == ("called", 3)


def test_a_counter_button_without_its_token_changes_nothing(sqlite_app):
    _floor(sqlite_app)
    officer, counter_id = _officer(sqlite_app)
    assert officer.post(f"/desk/counter/{counter_id}/open").status_code == 303
    with sqlite_app.app_context():
        assert queue.counters(Centre.default().id)[0].officer_id is None


def test_another_centres_officer_does_not_find_the_counter(sqlite_app):
    _floor(sqlite_app)
    with sqlite_app.app_context():
        other = Centre.create(code="khac", name="Trung tâm khác")
        make_user("nguoila", ("officer",), centre=other, password="mật-khẩu-9")
        counter_id = queue.counters(Centre.default().id)[0].id
    stranger = sqlite_app.test_client()
    sign_in(stranger, "nguoila", "mật-khẩu-9")
    assert stranger.get(f"/desk/counter/{counter_id}").status_code == 404


def test_a_citizen_books_a_slot_tomorrow(sqlite_app):
    _floor(sqlite_app)
    client = sqlite_app.test_client()
    tomorrow = (local_today() + timedelta(days=1)).isoformat()
    page = client.get(f"/queue/default/book?day={tomorrow}")
    start = re.search(r'name="start" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    booked = client.post(f"/queue/default/book?day={tomorrow}", data={"csrf_token": csrf(page), "start": start})
    assert booked.status_code == 303
    ticket = client.get(booked.headers["Location"] + ".json").json
    assert ticket["label"] == "A001" and ticket["day"] == tomorrow and ticket["booked_for"]


def test_the_door_poster_carries_a_qr_code_of_the_phone_page(sqlite_app):
    _floor(sqlite_app)
    page = sqlite_app.test_client().get("/queue/default/door").get_data(as_text=True)
    assert 'class="segno"' in page and "/queue/default/take" in page


def test_an_unknown_centre_or_ticket_is_not_found(sqlite_app):
    client = sqlite_app.test_client()
    assert client.get("/queue/nowhere/kiosk").status_code == 404
    assert client.get("/queue/default/ticket/nothing").status_code == 404


def test_the_queue_figures_page_shows_the_days_waits(sqlite_app):
    group_id = _floor(sqlite_app)
    _take(sqlite_app.test_client(), "/queue/default/take", group_id)
    officer, counter_id = _officer(sqlite_app)
    _press(officer, counter_id, "open")
    _press(officer, counter_id, "next")
    _press(officer, counter_id, "serve")
    _press(officer, counter_id, "finish")
    page = officer.get("/desk/counter/report").get_data(as_text=True)
    assert re.search(r'class="total"><td>[^<]+</td><td data-column="tickets">1</td><td data-column="served">1<', page)
    csv = officer.get("/desk/counter/report?format=csv").get_data(as_text=True)
    assert csv.lstrip("\ufeff").splitlines()[0].startswith("kind,name,tickets")
    assert officer.get("/desk/counter/report?from=2026-02-01&to=2026-01-01").status_code == 422


def _get(url, etag=None):
    request = urllib.request.Request(url, headers={"If-None-Match": etag} if etag else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, reply.headers.get("ETag")
    except HTTPError as error:
        return error.code, error.headers.get("ETag")


def test_the_hall_screen_polls_a_real_server_with_conditional_gets(tmp_path):
    with embedded_server(tmp_path, user("canbo1", "officer", password="mật-khẩu-1")) as base:
        status, etag = _get(base + "/queue/default/screen.json")
        assert status == 200 and etag
        assert _get(base + "/queue/default/screen.json", etag) == (304, etag)
        assert _get(base + "/queue/default/screen")[0] == 200


def test_a_phone_taking_number_after_number_is_told_to_wait_but_the_kiosk_is_not(sqlite_app):
    group_id = _floor(sqlite_app)
    client = sqlite_app.test_client()
    answers = [_take(client, "/queue/default/take", group_id).status_code for _ in range(7)]
    assert answers == [303] * 6 + [429]
    assert _take(client, "/queue/default/kiosk", group_id).status_code == 303
