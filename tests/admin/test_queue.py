"""The queue page of the back office: an administrator sets up the centre's service groups and
counters; a bad entry is refused in plain words; officers cannot open the page."""

import re

from onestop.models import Centre, QueueGroup
from onestop.services import queue
from tests.admin.test_back_office import _signed_in

PAGE = "/admin/queue/"


def _token(page) -> str:
    return re.search(r'name="group-csrf_token" type="hidden" value="([^"]+)"', page.get_data(as_text=True)).group(1)


def test_only_administrators_open_the_page(sqlite_app):
    assert _signed_in(sqlite_app, "canbo", ("officer",)).get(PAGE).status_code == 403
    page = _signed_in(sqlite_app, "quantri", ("admin",)).get(PAGE).get_data(as_text=True)
    assert "/queue/default/kiosk" in page and "/queue/default/screen" in page


def test_an_administrator_adds_a_group_with_booking_and_a_counter_serving_it(sqlite_app):
    admin = _signed_in(sqlite_app, "quantri", ("admin",))
    saved = admin.post(PAGE, data={"group-csrf_token": _token(admin.get(PAGE)), "group-letter": "b",
                                   "group-name": "Đất đai", "group-slot_minutes": "20", "group-slot_capacity": "3",
                                   "group-active": "y"})
    assert saved.status_code == 302
    with sqlite_app.app_context():
        group = QueueGroup.get()
        assert (group.letter, group.slot_minutes, group.slot_capacity) == ("B", 20, 3)
    added = admin.post(PAGE, data={"counter-csrf_token": _token(admin.get(PAGE)), "counter-number": "5",
                                   "counter-name": "Quầy đất đai", "counter-groups": str(group.id)})
    assert added.status_code == 302
    with sqlite_app.app_context():
        assert [(c.number, c.groups) for c in queue.counters(Centre.default().id)] == [("5", [group.id])]
    listing = admin.get(PAGE).get_data(as_text=True)
    assert "<td>Quầy đất đai</td><td>B</td>" in listing


def test_a_letter_that_is_no_letter_is_refused_and_nothing_is_kept(sqlite_app):
    admin = _signed_in(sqlite_app, "quantri", ("admin",))
    refused = admin.post(PAGE, data={"group-csrf_token": _token(admin.get(PAGE)), "group-letter": "7",
                                     "group-name": "Hộ tịch", "group-slot_minutes": "15", "group-slot_capacity": "0"})
    assert refused.status_code == 200 and "Không lưu được" in refused.get_data(as_text=True)
    with sqlite_app.app_context():
        assert QueueGroup.select().count() == 0
