"""The back office's national portal page: each centre's sync health (waiting, failed with the last
error, last success, last reconciliation, procedure codes the portal pushed that the centre lacks),
the refused pushes (a forged one too), and "retry now" that sends a failed change again."""

from onestop.models import PortalPush
from onestop.services.national_portal import sync
from tests.conftest import MODELS, Api, make_user
from tests.support.national_portal import connected, send_all, worker_round
from tests.web.pages import csrf, sign_in

PASSWORD = "mật-khẩu-quản-trị"


def test_the_page_shows_each_centres_sync_and_a_failed_change_is_retried_from_it(sqlite_app, tmp_path, clock):
    with sqlite_app.app_context():
        _, token = make_user("quan.tri", ("admin",), password=PASSWORD)
    api = Api(sqlite_app.test_client(), token)
    assert api.upload([MODELS / "review.bpmn", MODELS / "receive-schema.json"]).status_code == 201
    client = sqlite_app.test_client()
    assert sign_in(client, "quan.tri", PASSWORD).status_code == 303
    with connected(sqlite_app, tmp_path / "portal") as portal:
        empty = client.get("/admin/national-portal/")
        assert empty.status_code == 200 and "Chưa có hồ sơ nào" in empty.get_data(as_text=True)
        assert portal.push_one("review", "DVC-1")[0] == 201
        assert portal.push_one("2.000123", "DVC-2")[0] == 422  # no such procedure here
        assert portal.push_one("review", "DVC-3", forge=True)[0] == 401
        portal.mode("down")
        sqlite_app.extensions["onestop.runtime"].national_portal.attempts = 3  # the session must outlive the pauses
        for attempt in range(1, 4):
            worker_round(sqlite_app)
            clock.advance(sync.pause(attempt).total_seconds() + 1)
        worker_round(sqlite_app, "reconcile_due")

        page = client.get("/admin/national-portal/")
        text = page.get_data(as_text=True)
        assert page.status_code == 200 and "Có sự cố" in text and "503" in text
        assert '<td class="failed">1</td>' in text and "<code>2.000123</code> (1 lần)" in text
        assert "Chữ ký không hợp lệ" in text and "Không có thủ tục" in text and "DVC-2" in text

        portal.mode("up")
        done = client.post("/admin/national-portal/1/retry", data={"csrf_token": csrf(page)}, follow_redirects=True)
        assert done.status_code == 200 and "Đã xếp 1 thay đổi" in done.get_data(as_text=True)
        assert send_all(sqlite_app) == 1 and portal.statuses("DVC-1") == [(1, 1)]
        with sqlite_app.app_context():
            assert [p.state for p in PortalPush.select()] == ["sent"]
        assert '<td class="sent">1</td>' in client.get("/admin/national-portal/").get_data(as_text=True)


def test_retrying_another_scopes_centre_is_not_found(sqlite_app):
    with sqlite_app.app_context():
        make_user("quan.tri", ("admin",), password=PASSWORD)
    client = sqlite_app.test_client()
    assert sign_in(client, "quan.tri", PASSWORD).status_code == 303
    page = client.get("/admin/national-portal/")
    assert client.post("/admin/national-portal/999/retry", data={"csrf_token": csrf(page)}).status_code == 404
