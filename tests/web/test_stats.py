"""The public figures: the dashboard (no sign-in) with its charts and open data, the stats API,
and the citizen's rating."""

import csv
import io
import re

from tests.conftest import MODELS, Api, make_user
from tests.process_models import Walk, upload_bundled
from tests.process_models import test_birth_registration as birth
from tests.process_models.test_copy_certification import APPLICATION, ATTESTED, RECEIVED, SIGNED


def _resolved(api):
    upload_bundled(api, "copy_certification")
    walk = Walk(api, "2.000815", data=APPLICATION)
    walk.key = walk.dossier["lookup_key"]  # shown once, to whoever created it
    walk.complete("Task_Receive", RECEIVED).complete("Task_Attest", ATTESTED).complete("Task_Sign", SIGNED)
    assert walk.dossier["status"] == "resolved"
    return walk


def test_a_citizen_rates_a_resolved_dossier_once_on_its_page(sqlite_app, sqlite_admin_api):
    walk = _resolved(sqlite_admin_api)
    key = walk.key
    citizen = sqlite_app.test_client()
    page = citizen.get(f"/track/{walk.code}?k={key}").get_data(as_text=True)
    assert 'id="rate"' in page and "Rất hài lòng" in page
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    rated = citizen.post(f"/track/{walk.code}/rating", data={"csrf_token": token, "key": key, "level": "rat_hai_long",
                                                            "comment": "Nhanh, chu đáo"})
    text = rated.get_data(as_text=True)
    assert rated.status_code == 200 and "Cảm ơn ông/bà đã đánh giá" in text and 'id="rated"' in text
    again = sqlite_app.test_client().post(f"/api/v1/dossiers/{walk.code}/rating", json={"key": key, "level": "hai_long"})
    assert again.status_code == 409
    wrong_key = sqlite_app.test_client().post(f"/api/v1/dossiers/{walk.code}/rating",
                                              json={"key": "x" * 20, "level": "hai_long"})
    assert wrong_key.status_code == 404
    figures = sqlite_app.test_client().get("/api/v1/stats").json
    assert figures["ratings"]["rat_hai_long"] == 1 and figures["satisfaction_rate"] == 100.0


def test_an_unfinished_dossier_cannot_be_rated(sqlite_app, sqlite_admin_api):
    upload_bundled(sqlite_admin_api, "copy_certification")
    walk = Walk(sqlite_admin_api, "2.000815", data=APPLICATION)
    reply = sqlite_app.test_client().post(f"/api/v1/dossiers/{walk.code}/rating",
                                          json={"key": walk.dossier["lookup_key"], "level": "hai_long"})
    assert reply.status_code == 409


def test_the_stats_api_is_public_and_adds_the_officials_for_the_centre(sqlite_app, sqlite_admin_api):
    walk = _resolved(sqlite_admin_api)
    public = sqlite_app.test_client().get("/api/v1/stats")
    assert public.status_code == 200 and "officials" not in public.json
    assert public.json["received"] == 1 and public.json["resolved"] == 1 and public.json["on_time_rate"] == 100.0
    own = sqlite_admin_api.get("/stats?procedure=2.000815")
    assert [o["done"] for o in own.json["officials"]] == [3]
    with sqlite_app.app_context():
        _, token = make_user("someone", ("officer",))
    assert Api(sqlite_app.test_client(), "bad-token").get("/stats").status_code == 401
    assert Api(sqlite_app.test_client(), token).get("/stats?from=2026-13-01").status_code == 422
    assert sqlite_app.test_client().get("/api/v1/stats?centre=NOPE").status_code == 404
    assert sqlite_app.test_client().get("/api/v1/stats?procedure=9.999").status_code == 404
    units = sqlite_app.test_client().get("/api/v1/stats?unit=Lãnh đạo UBND xã").json["units"]
    assert [u["name"] for u in units] == ["Lãnh đạo UBND xã"] and walk.state == "active"


def test_the_dashboard_draws_its_charts_and_its_numbers_are_the_open_data(sqlite_app, sqlite_admin_api):
    _resolved(sqlite_admin_api)
    client = sqlite_app.test_client()
    home = client.get("/").get_data(as_text=True)
    assert 'href="/stats"' in home
    page = client.get("/stats").get_data(as_text=True)
    assert page.count('<svg class="chart"') == 2 and "Tỷ lệ giải quyết đúng hạn" in page
    month = re.search(r'id="this-month".*?data-figure="received">(\d+)<', page, re.S).group(1)
    data = client.get("/stats.json").json
    assert int(month) == data["this_month"]["received"] == 1
    rows = list(csv.DictReader(io.StringIO(client.get("/stats.csv").get_data(as_text=True).lstrip("\ufeff"))))
    assert len(rows) == 12 and rows[-1]["received"] == "1" and rows[-1]["on_time_rate"] == "100.0"
    assert [r["month"] for r in rows] == [m["month"] for m in data["months"]]
    assert client.get("/stats?centre=NOPE").status_code == 404


def test_the_figures_kept_as_things_happen_equal_the_count_from_the_rows(app, admin_api):
    from datetime import timedelta

    from onestop.models import Centre, utcnow
    from onestop.services import stats
    from onestop.workdays import to_local

    done = _resolved(admin_api)
    app.test_client().post(f"/api/v1/dossiers/{done.code}/rating", json={"key": done.key, "level": "hai_long"})
    done.complete("Task_Return", {"returned_on": "2026-12-07", "receiver_full_name": "Đỗ Thị Mai", "fee_vnd": 6000})
    asked = Walk(admin_api, "2.000815", data=APPLICATION)
    admin_api.post(f"/dossiers/{asked.code}/supplement-request", {"reason": "Bản chính"})
    admin_api.post(f"/dossiers/{asked.code}/supplement", {"note": "Đã nộp"})
    refused = Walk(admin_api, "2.000815", data=APPLICATION)
    admin_api.post(f"/dossiers/{refused.code}/end", {"how": "not_accepted", "reason": "Không thuộc thẩm quyền"})
    sent_back = birth.resolved_after_a_send_back(admin_api)
    app.test_client().post(f"/api/v1/dossiers/{sent_back.code}/rating",
                           json={"key": sent_back.key, "level": "khong_hai_long"})
    with app.app_context():
        ids = [Centre.get(Centre.code == "default").id]
        today = to_local(utcnow()).date()
        span = (today.replace(day=1), today + timedelta(days=1))
        kept = stats.figures(ids, *span, detail=True).as_dict()
        assert kept == stats.figures_from_rows(ids, *span, detail=True).as_dict()
        assert stats.figures(ids, *span).as_dict(public=True) == stats.figures_from_rows(ids, *span).as_dict(
            public=True)
        assert (kept["received"], kept["resolved"], kept["returned"], kept["supplemented"], kept["not_accepted"]) == (
            4, 2, 2, 1, 1)
        assert kept["ratings"] == {"rat_hai_long": 0, "hai_long": 1, "khong_hai_long": 1}
        steps = {(s["procedure"], s["element"]): (s["done"], s["rework"]) for s in kept["steps"]}
        assert steps[birth.CODE, "Task_Appraise"] == steps[birth.CODE, "Task_Sign"] == (2, 1)
        assert steps[birth.CODE, "Task_Receive"] == steps["2.000815", "Task_Sign"] == (1, 0)
        units = {u["name"]: u for u in kept["units"]}
        assert units[birth.CIVIL_STATUS]["ratings"]["khong_hai_long"] == 1
        assert units["Bộ phận Một cửa"]["ratings"] == {"rat_hai_long": 0, "hai_long": 1, "khong_hai_long": 1}
        assert [(o["done"], o["rework"]) for o in kept["officials"]] == [(12, 3)]  # admin1 did every step
        procedure = stats.procedure_ids(ids, birth.CODE)
        assert stats.figures(ids, *span, procedure, detail=True).as_dict() == stats.figures_from_rows(
            ids, *span, procedure, detail=True).as_dict()
        stats.rebuild()
        assert stats.figures(ids, *span, detail=True).as_dict() == kept


def test_the_index_scores_what_the_platform_can_compute_and_names_what_it_cannot(sqlite_app, sqlite_admin_api):
    from datetime import date

    from onestop.models import Centre
    from onestop.services import stats

    done = _resolved(sqlite_admin_api)
    sqlite_app.test_client().post(f"/api/v1/dossiers/{done.code}/rating", json={"key": done.key, "level": "hai_long"})
    with sqlite_app.app_context():
        ids = [Centre.get(Centre.code == "default").id]
        groups = {g["key"]: g for g in stats.index(ids, date(2000, 1, 1), date(2100, 1, 1))}
    assert sum(g["weight"] for g in groups.values()) == 100
    assert groups["online_payment"]["score"] is None  # no fee was asked through the system
    assert groups["online_payment"]["counts"] == {"dossiers_with_fee": 0, "dossiers_paid_online": 0}
    assert groups["progress"]["score"] == 20.0 and groups["satisfaction"]["score"] == 18.0
    assert groups["publicity"]["score"] == 18.0  # the bundled record lists documents, fee, legal basis, deadline
    assert groups["online_service"]["score"] == 0.0 and groups["digitisation"]["score"] is None  # no paper taken in
    page = sqlite_app.test_client().get("/stats").get_data(as_text=True)
    assert 'id="index"' in page and "Quyết định 766" in page


def test_the_monthly_scorecard_shows_an_official_their_own_line_and_a_leader_everyone(sqlite_app, sqlite_admin_api):
    from tests.web.pages import sign_in

    done = _resolved(sqlite_admin_api)  # three steps done by admin1, through the API
    sqlite_app.test_client().post(f"/api/v1/dossiers/{done.code}/rating", json={"key": done.key, "level": "rat_hai_long"})
    with sqlite_app.app_context():
        from onestop.models import User

        User.update(display_name="Nguyễn Văn An").where(User.username == "admin1").execute()
        make_user("canbo.moi", ("officer",), password="mật-khẩu-cán-bộ")
        make_user("lanh.dao", ("leader", "officer"), password="mật-khẩu-lãnh-đạo")
    officer, leader = sqlite_app.test_client(), sqlite_app.test_client()
    sign_in(officer, "canbo.moi", "mật-khẩu-cán-bộ")
    sign_in(leader, "lanh.dao", "mật-khẩu-lãnh-đạo")
    own = officer.get("/desk/scorecard").get_data(as_text=True)
    assert "admin1" not in own and 'id="units"' not in own and "Tháng này chưa có gì" in own
    everyone = leader.get("/desk/scorecard").get_data(as_text=True)
    row = re.search(r'<tr><td>Nguyễn Văn An <span class="small muted">admin1</span></td><td[^>]*>(\d+)</td>', everyone)
    assert row and row.group(1) == "3" and 'id="units"' in everyone and "Bộ phận Một cửa" in everyone
    assert re.search(r"<td class=\"small\"[^>]*>1 · 0 · 0</td>", everyone)  # the rating counts for who handled it
    assert leader.get("/desk/scorecard?month=nonsense").status_code == 200


def test_the_figures_download_as_xlsx_with_the_same_numbers(sqlite_app, sqlite_admin_api):
    import zipfile

    _resolved(sqlite_admin_api)
    reply = sqlite_app.test_client().get("/stats.xlsx")
    assert reply.status_code == 200 and reply.mimetype.endswith("spreadsheetml.sheet")
    book = zipfile.ZipFile(io.BytesIO(reply.data))
    sheets = [n for n in book.namelist() if n.startswith("xl/worksheets/sheet")]
    assert len(sheets) == 3
    shared = book.read("xl/sharedStrings.xml").decode()
    assert "Tiến độ giải quyết" in shared and "on_time_rate" in shared


def test_the_national_roll_up_adds_each_provinces_communes(app, admin_api):
    from onestop.models import Centre
    from onestop.services import centres, dossiers, procedures

    with app.app_context():
        system, _ = make_user("system", ("system_admin",))
        centres.import_units(system, [22, 1])
        for code in ("W07090", "W07093", "P22"):
            officer, _ = make_user(f"canbo.{code}", ("officer", "admin"), centre=Centre.get(Centre.code == code))
            procedures.upload_procedure(officer, [procedures.Upload(p.name, p.read_bytes()) for p in (
                MODELS / "review.bpmn", MODELS / "receive-schema.json")])
            dossiers.start_dossier(officer, "review")
    rows = {r["province"]: r for r in app.test_client().get("/api/v1/stats/provinces").json["provinces"]}
    assert rows["P22"]["received"] == 3 and rows["P01"]["received"] == 0 and len(rows) == 2
    client = app.test_client()
    page = client.get("/stats/provinces").get_data(as_text=True)
    quang_ninh = re.search(r'<tr data-province="P22"><td><a href="/stats\?centre=P22">([^<]+)</a></td><td[^>]*>(\d+)</td>', page)
    assert quang_ninh and quang_ninh.groups() == ("Trung tâm Phục vụ hành chính công Quảng Ninh", "3") and 'data-province="P01"' in page
    lines = list(csv.reader(io.StringIO(client.get("/stats/provinces?format=csv").get_data(as_text=True).lstrip("\ufeff"))))
    assert lines[0][:3] == ["province", "name", "received"] and ["P22", "Trung tâm Phục vụ hành chính công Quảng Ninh", "3"] == lines[2][:3]
    assert 'href="/stats/provinces"' in client.get("/stats").get_data(as_text=True)
    refused = client.get("/stats/provinces?from=2026-02-30")
    assert refused.status_code == 422 and "Traceback" not in refused.get_data(as_text=True)


def test_rating_by_key_is_rate_limited_like_every_lookup(sqlite_app):
    client = sqlite_app.test_client()
    answers = [client.post("/api/v1/dossiers/X-1/rating", json={"key": "k" * 20, "level": "hai_long"}).status_code
               for _ in range(40)]
    assert answers[0] == 404 and answers[-1] == 429 and "Traceback" not in client.post(
        "/api/v1/dossiers/X-1/rating", json={}).get_data(as_text=True)


def test_the_periodic_report_adds_up_by_field_for_leaders_only(app, admin_api):
    import zipfile
    from datetime import timedelta

    from onestop.models import Centre, utcnow
    from onestop.workdays import to_local
    from tests.web.pages import sign_in

    done = _resolved(admin_api)
    done.complete("Task_Return", {"returned_on": "2026-12-07", "receiver_full_name": "Đỗ Thị Mai", "fee_vnd": 6000})
    refused = Walk(admin_api, "2.000815", data=APPLICATION)
    admin_api.post(f"/dossiers/{refused.code}/end", {"how": "not_accepted", "reason": "Không thuộc thẩm quyền"})
    Walk(admin_api, "2.000815", data=APPLICATION)  # still in progress
    birth.resolved_after_a_send_back(admin_api)
    today = to_local(utcnow()).date()
    period = f"from={today.replace(day=1)}&to={today}"
    report = admin_api.get(f"/stats/report?{period}")
    assert report.status_code == 200, report.json
    rows = {r["field"]: r for r in report.json["rows"]}
    assert set(rows) == {"Chứng thực", "Hộ tịch"}
    copies = rows["Chứng thực"]
    assert copies["early"] + copies["on_time"] == 1  # early or on the day, depending on the hour the test runs
    assert copies | {"field": None, "early": None, "on_time": None} == {
        "field": None, "carried_over": 0, "received_online": 0, "received_other": 3, "resolved": 1, "early": None,
        "on_time": None, "late": 0, "without_deadline": 0, "ended": 1, "pending": 1, "pending_in_time": 1,
        "pending_overdue": 0}
    assert rows["Hộ tịch"]["resolved"] == 1 and rows["Hộ tịch"]["pending"] == 0
    for r in report.json["rows"] + [report.json["total"]]:
        assert r["carried_over"] + r["received_online"] + r["received_other"] - r["resolved"] - r["ended"] == r["pending"]
    last_month = admin_api.get("/stats/report").json  # by default: last month, before any of this
    assert last_month["to"] == str(today.replace(day=1) - timedelta(days=1)) and last_month["rows"] == []

    with app.app_context():
        _, officer_token = make_user("canbo.baocao", ("officer",), password="mật-khẩu-cán-bộ")
        make_user("lanhdao.baocao", ("leader", "officer"), password="mật-khẩu-lãnh-đạo")
        system, _ = make_user("system", ("system_admin",))
        from onestop.services import centres

        centres.import_units(system, [22])
        foreign = Centre.get(Centre.code == "W07090").code
    assert Api(app.test_client(), officer_token).get("/stats/report").status_code == 403
    assert app.test_client().get("/api/v1/stats/report").status_code == 401
    assert admin_api.get(f"/stats/report?centre={foreign}").status_code == 404
    assert admin_api.get("/stats/report?from=2026-02-30").status_code == 422
    officer, leader = app.test_client(), app.test_client()
    sign_in(officer, "canbo.baocao", "mật-khẩu-cán-bộ")
    sign_in(leader, "lanhdao.baocao", "mật-khẩu-lãnh-đạo")
    assert officer.get("/desk/report").status_code == 403
    malformed = leader.get("/desk/report?from=2026-02-30")
    assert malformed.status_code == 422 and 'id="from-error"' in malformed.get_data(as_text=True)  # said on the page
    page = leader.get(f"/desk/report?{period}").get_data(as_text=True)
    assert "Báo cáo định kỳ" in page and "Chứng thực" in page
    total = re.search(r'<tr class="total"><td>Tổng cộng</td>\s*<td data-column="carried_over"[^>]*>(\d+)</td>'
                      r'<td data-column="received_online"[^>]*>(\d+)</td><td data-column="received_other"[^>]*>(\d+)</td>', page)
    assert total and total.groups() == ("0", "0", "4")
    assert "Báo cáo định kỳ" in leader.get("/desk/").get_data(as_text=True)
    assert "Báo cáo định kỳ" not in officer.get("/desk/").get_data(as_text=True)
    xlsx = leader.get(f"/desk/report?{period}&format=xlsx")
    assert xlsx.status_code == 200 and "Kỳ trước chuyển qua" in zipfile.ZipFile(io.BytesIO(xlsx.data)).read(
        "xl/sharedStrings.xml").decode()
    lines = list(csv.reader(io.StringIO(leader.get(f"/desk/report?{period}&format=csv").get_data(as_text=True)
                                        .lstrip("\ufeff"))))
    assert lines[0][0] == "Lĩnh vực" and lines[-1][0] == "Tổng cộng" and lines[-1][3] == "4"
