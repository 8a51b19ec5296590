"""The citizens' portal: catalogue search, procedure page, online submission, confirmation, tracking."""

import io
import re

import pytest

from tests.web.pages import FORMS, GOOD_APPLICATION, PDF, csrf, folder_zip, submit_application

ROOT = FORMS.parents[2]


@pytest.fixture
def portal(sqlite_admin_api, sqlite_app):
    assert sqlite_admin_api.upload([folder_zip(FORMS / "spiffarena")]).status_code == 201
    bundled = ROOT / "process_models" / "construction_permit_commune"
    assert sqlite_admin_api.upload([folder_zip(bundled)]).status_code == 201
    return sqlite_app.test_client()


def test_the_catalogue_is_in_vietnamese_first(portal):
    page = portal.get("/")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and '<html lang="vi">' in text
    assert "Trung tâm phục vụ hành chính công" in text and "Thủ tục hành chính" in text


def test_english_is_one_click_away(portal):
    page = portal.get("/lang/en?next=/", follow_redirects=True)
    assert '<html lang="en">' in page.get_data(as_text=True) and "Administrative procedures" in page.get_data(as_text=True)


def test_the_language_switch_never_redirects_off_the_site(portal):
    assert portal.get("/lang/en?next=//evil.example/").headers["Location"] == "/"


def test_search_ignores_diacritics_and_case(portal):
    text = portal.get("/?q=cap giay phep XAY DUNG").get_data(as_text=True)
    assert "1.013225" in text and "household_business" not in text
    assert "1.013225" not in portal.get("/?q=khai sinh").get_data(as_text=True)


def test_the_catalogue_filters_by_level(portal):
    assert "1.013225" in portal.get("/?level=commune").get_data(as_text=True)
    assert "1.013225" not in portal.get("/?level=province").get_data(as_text=True)


def test_an_inter_level_procedure_is_listed_under_both_levels(portal, sqlite_admin_api):
    bundled = ROOT / "process_models" / "social_protection_admission"
    assert sqlite_admin_api.upload([folder_zip(bundled)]).status_code == 201
    for level in ("commune", "province"):
        assert "2.000286" in portal.get(f"/?level={level}").get_data(as_text=True)
    assert "Cấp xã, cấp tỉnh (liên thông)" in portal.get("/procedures/2.000286").get_data(as_text=True)


def test_a_procedure_page_lists_documents_time_and_authority(portal):
    text = portal.get("/procedures/1.013225").get_data(as_text=True)
    assert "Thành phần hồ sơ" in text and "Đơn đề nghị cấp giấy phép xây dựng" in text
    # «20 ngày (15 ngày đối với nhà ở riêng lẻ)»: calendar days, not working days (1.013225)
    assert "20 ngày (nhà ở riêng lẻ: 15 ngày)" in text and "ngày làm việc" not in text
    assert "Ủy ban nhân dân cấp xã" in text
    assert "chưa nhận hồ sơ trực tuyến" in text  # no start form: submitted at the counter


def test_a_citizen_submits_online_and_gets_a_code_and_lookup_key(portal):
    reply = submit_application(portal)
    assert reply.status_code == 303, reply.get_data(as_text=True)[:2000]
    page = portal.get(reply.headers["Location"])
    text = page.get_data(as_text=True)
    code = re.search(r'class="big-code">([0-9A-Z.]+-\d{6}-\d{4,})<', text).group(1)
    key = re.search(r'id="lookup-key">([^<]+)<', text).group(1)
    assert len(key.replace("-", "")) == 20 and "Thẩm định hồ sơ" in text
    found = portal.post("/track", data={"code": code, "key": key.lower()})
    assert found.status_code == 200 and code in found.get_data(as_text=True)
    wrong = portal.post("/track", data={"code": code, "key": "AAAAA-AAAAA-AAAAA-AAAAA"})
    assert wrong.status_code == 404 and "Không có hồ sơ nào" in wrong.get_data(as_text=True)


def test_the_confirmation_page_is_only_for_whoever_submitted(portal, sqlite_app):
    reply = submit_application(portal)
    other = sqlite_app.test_client()
    page = other.get(reply.headers["Location"])
    assert page.status_code == 404 and "/track" in page.get_data(as_text=True)  # where to look it up instead
    assert other.get(reply.headers["Location"] + "/receipt").status_code == 404


def test_wrong_fields_come_back_next_to_each_field_as_the_api_reports_them(portal, sqlite_admin_api):
    fields = GOOD_APPLICATION | {"citizen_id": "12345", "capital_vnd": "nhiều"}
    reply = submit_application(portal, fields)
    assert reply.status_code == 422
    text = reply.get_data(as_text=True)
    assert 'id="citizen_id-error">Không đúng định dạng.' in text
    assert 'id="capital_vnd-error">Phải là một số nguyên.' in text
    assert 'value="Trần Thị Bình"' in text  # nothing typed is lost
    api = sqlite_admin_api.post("/dossiers", {"procedure": "household_business", "data": {
        "full_name": "Trần Thị Bình", "citizen_id": "12345", "business_name": "Phở Bình", "capital_vnd": "nhiều",
        "start_date": "2026-12-01", "business_lines": ["5610"], "address": {"street": "12 Lê Lợi", "commune": "Hồng Gai"},
        "documents": "data:application/pdf;name=a.pdf;base64,JVBERi0xLjQK"}})
    assert {d["field"] for d in api.json["details"]} == {"citizen_id", "capital_vnd"}


def test_a_file_that_is_not_a_document_is_refused_by_its_content(portal):
    reply = submit_application(portal, files=(io.BytesIO(b"MZ\x90\x00" + b"\0" * 200), "giay-to.pdf"))
    assert reply.status_code == 422
    assert 'id="documents-error">Tệp phải là PDF' in reply.get_data(as_text=True)


def test_a_required_file_left_out_is_reported_on_its_field(portal):
    form = portal.get("/procedures/household_business/submit")
    reply = portal.post("/procedures/household_business/submit", data={"csrf_token": csrf(form), **GOOD_APPLICATION},
                        content_type="multipart/form-data")
    assert reply.status_code == 422 and 'id="documents-error">Mục này là bắt buộc.' in reply.get_data(as_text=True)


def test_a_submission_without_its_csrf_token_is_refused_and_stores_nothing(portal, sqlite_app):
    reply = portal.post("/procedures/household_business/submit",
                        data={**GOOD_APPLICATION, "documents": (io.BytesIO(PDF), "a.pdf")},
                        content_type="multipart/form-data")
    assert reply.status_code == 400
    with sqlite_app.app_context():
        from onestop.models import Dossier
        assert Dossier.select().count() == 0


def test_repeating_rows_can_be_added_without_javascript(portal):
    form = portal.get("/procedures/household_business/submit")
    reply = portal.post("/procedures/household_business/submit",
                        data={"csrf_token": csrf(form), **GOOD_APPLICATION, "_add_row": "members"},
                        content_type="multipart/form-data")
    text = reply.get_data(as_text=True)
    assert reply.status_code == 200 and 'name="members-1-name"' in text and 'value="Trần Văn An"' in text


def test_a_camunda_forms_file_renders_and_validates_as_the_application(sqlite_admin_api, sqlite_app):
    assert sqlite_admin_api.upload(sorted((FORMS / "camunda").iterdir())).status_code == 201
    client = sqlite_app.test_client()
    form = client.get("/procedures/event_permit/submit")
    text = form.get_data(as_text=True)
    assert "<h1>Đơn đề nghị cấp phép</h1>" in text  # the form's text component, Markdown rendered
    assert 'type="radio"' in text and 'value="commune"' in text and 'type="checkbox"' in text
    assert 'type="date"' in text and 'type="email"' in text and "<textarea" in text
    refused = client.post("/procedures/event_permit/submit", data={"csrf_token": csrf(form), "applicant_name": "Lê"},
                          content_type="multipart/form-data")
    assert refused.status_code == 422 and 'id="purpose-error"' in refused.get_data(as_text=True)
    sent = client.post("/procedures/event_permit/submit", content_type="multipart/form-data", data={
        "csrf_token": csrf(form), "applicant_name": "Lê Văn Cường", "purpose": "Hội chợ xuân",
        "event_day": "2027-01-20", "scale": "commune", "loudspeakers": "y", "guests": "300"})
    assert sent.status_code == 303


def test_hostile_form_posts_get_clear_answers_never_a_traceback(portal):
    form = portal.get("/procedures/household_business/submit")
    token = csrf(form)
    rows = {f"members-{i}-name": "x" for i in range(0, 400)}
    cases = [
        rows,  # far more repeating rows than a form may have
        {"capital_vnd": "9" * 5000, "start_date": "2026-02-30", "citizen_id": "\u0000" * 20},
        {"business_lines": ["5610"] * 50, "ownership": "<script>alert(1)</script>"},
        {"_add_row": "no_such_field", "_remove_row": "members:999"},
    ]
    for fields in cases:
        reply = portal.post("/procedures/household_business/submit", content_type="multipart/form-data",
                            data={"csrf_token": token, **GOOD_APPLICATION, **fields,
                                  "documents": (io.BytesIO(PDF), "a.pdf")})
        text = reply.get_data(as_text=True)
        assert reply.status_code in (200, 303, 400, 413, 422), (fields.keys(), reply.status_code)
        assert "Traceback" not in text and "<script>alert(1)</script>" not in text


def test_guessing_lookup_keys_is_slowed_down(portal):
    for _ in range(20):
        assert portal.post("/track", data={"code": "000.00.00.H00-261126-0001", "key": "WRONG"}).status_code == 404
    refused = portal.post("/track", data={"code": "000.00.00.H00-261126-0001", "key": "WRONG"})
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0


def test_a_limit_counts_per_key_in_a_moving_window_and_says_when_to_come_back():
    from onestop import ratelimit

    counts = ratelimit.Limiter(None)
    limit = ratelimit.Limit("test", "3 per minute")
    assert all(counts.hit(limit, "k") for _ in range(3)) and not counts.hit(limit, "k") and counts.exceeded(limit, "k")
    assert 0 < counts.retry_after(limit, "k") <= 60 and not counts.exceeded(limit, "other")
    counts.clear(limit, "k")
    assert not counts.exceeded(limit, "k") and counts.hit(limit, "k")


def test_the_receipt_slip_carries_the_code_dates_and_a_qr_code_of_the_tracking_address(portal):
    reply = submit_application(portal)
    confirmation = portal.get(reply.headers["Location"]).get_data(as_text=True)
    key = re.search(r'id="lookup-key">([^<]+)<', confirmation).group(1)
    code = re.search(r'class="big-code">([^<]+)<', confirmation).group(1)
    slip = portal.get(reply.headers["Location"] + "/receipt")
    text = slip.get_data(as_text=True)
    assert slip.status_code == 200 and "GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ" in text
    assert f"Mã hồ sơ: {code}" in text and "Trần Thị Bình" in text and "giay-chung-nhan.pdf" in text
    assert "<svg" in text and 'class="segno"' in text and "Thời gian nhận hồ sơ:" in text
    page = portal.get(f"/track/{code}?k={key}")
    assert page.status_code == 200 and code in page.get_data(as_text=True)
    assert page.headers["X-Robots-Tag"] == "noindex" and page.headers["Cache-Control"] == "no-store"
    assert portal.get(f"/track/{code}?k=AAAAA").status_code == 404



BIRTH = {"declarant_full_name": "Nguyễn Văn Hùng", "declarant_citizen_id": "001085012345",
         "declarant_relationship": "cha", "child_full_name": "Nguyễn Minh Anh", "child_gender": "nu",
         "child_date_of_birth": "2026-11-20", "child_place_of_birth": "Bệnh viện Sản Nhi Quảng Ninh",
         "mother_full_name": "Trần Thị Lan", "birth_evidence": "giay_chung_sinh", "copies_requested": "1"}


def test_the_status_page_draws_the_procedure_with_the_current_step_marked(sqlite_admin_api, sqlite_app):
    from tests.process_models import upload_bundled
    from tests.process_models.test_birth_registration import RECEIVED

    upload_bundled(sqlite_admin_api, "birth_registration")
    citizen = sqlite_app.test_client()
    form = citizen.get("/procedures/1.001193/submit")
    reply = citizen.post("/procedures/1.001193/submit", content_type="multipart/form-data", data={
        "csrf_token": csrf(form), **BIRTH, "birth_evidence_file": (io.BytesIO(PDF), "giay-chung-sinh.pdf")})
    assert reply.status_code == 303, reply.get_data(as_text=True)[:3000]
    confirmation = citizen.get(reply.headers["Location"]).get_data(as_text=True)
    code = re.search(r'class="big-code">([^<]+)<', confirmation).group(1)
    key = re.search(r'id="lookup-key">([^<]+)<', confirmation).group(1)
    text = citizen.get(f"/track/{code}?k={key}").get_data(as_text=True)
    assert '<svg class="diagram"' in text and 'data-element="Task_Receive" data-state="now"' in text
    assert 'data-element="Task_Sign" data-state="later"' in text and "<script" not in text.split("<svg")[1]
    task = sqlite_admin_api.get(f"/tasks?dossier={code}").json["tasks"][0]
    assert sqlite_admin_api.post(f"/tasks/{task['id']}/complete", {"data": RECEIVED}).status_code == 200
    text = citizen.get(f"/track/{code}?k={key}").get_data(as_text=True)
    assert 'data-element="Task_Receive" data-state="done"' in text
    assert 'data-element="Task_Appraise" data-state="now"' in text


def test_the_catalogue_does_not_load_the_models(sqlite_admin_api, sqlite_app, monkeypatch):
    from onestop.services import procedures
    from onestop.services.users import portal_user
    from tests.process_models import upload_bundled

    upload_bundled(sqlite_admin_api, "birth_registration")

    def loads(version):
        raise AssertionError("the catalogue loaded a model")

    monkeypatch.setattr(procedures, "model_for", loads)
    with sqlite_app.app_context():
        [entry] = procedures.catalogue(portal_user())
        assert entry.online


@pytest.fixture
def communes(app, admin_api):
    """Quảng Ninh's communes imported; commune W07090 offers the household business procedure, the
    default centre the construction permit only."""
    from onestop.models import Centre
    from onestop.services import centres
    from tests.conftest import Api, make_user

    bundled = ROOT / "process_models" / "construction_permit_commune"
    assert admin_api.upload([folder_zip(bundled)]).status_code == 201
    with app.app_context():
        system, _ = make_user("system", ("system_admin",))
        centres.import_units(system, [22])
        _, token = make_user("xa.admin", ("admin", "officer"), centre=Centre.get(Centre.code == "W07090"))
    assert Api(app.test_client(), token).upload([folder_zip(FORMS / "spiffarena")]).status_code == 201
    return app


def test_a_citizen_chooses_their_commune_and_submits_to_it(communes):
    from onestop.models import Dossier

    citizen = communes.test_client()
    assert "household_business" not in citizen.get("/").get_data(as_text=True)  # the default centre's catalogue
    chooser = citizen.get("/centres").get_data(as_text=True)
    assert 'data-centre="default"' in chooser and 'data-centre="W07090"' not in chooser  # communes: by province
    found = citizen.get("/centres?q=an sinh").get_data(as_text=True)  # diacritics ignored
    assert 'data-centre="W07090"' in found and "An Sinh" in found
    assert 'data-centre="W07090"' in citizen.get("/centres?province=P22").get_data(as_text=True)
    chosen = citizen.get("/?centre=W07090").get_data(as_text=True)
    assert "household_business" in chosen and "1.013225" not in chosen and "An Sinh" in chosen
    assert "household_business" in citizen.get("/").get_data(as_text=True)  # remembered for the next visit
    confirmation = submit_application(citizen)
    assert confirmation.status_code == 303, confirmation.get_data(as_text=True)[:500]
    code = confirmation.headers["Location"].rsplit("/", 1)[-1]
    with communes.app_context():
        assert Dossier.get(Dossier.code == code).centre.code == "W07090"
    receipt = citizen.get(f"/submitted/{code}/receipt")
    assert receipt.status_code == 200 and "An Sinh" in receipt.get_data(as_text=True)
    key = re.search(r'id="lookup-key">([^<]+)<', citizen.get(f"/submitted/{code}").get_data(as_text=True)).group(1)
    status = citizen.get(f"/track/{code}?k={key}")
    withdrawn = citizen.post(f"/track/{code}/withdraw", data={"csrf_token": csrf(status), "key": key, "confirm": "y"})
    assert "Hồ sơ của bạn đã được rút" in withdrawn.get_data(as_text=True)
    with communes.app_context():
        from onestop.models import AuditEvent
        from onestop.services import audit

        event = AuditEvent.select().where(AuditEvent.action == "dossier.withdrawn").get()
        assert event.actor.username == "portal.W07090" and event.centre.code == "W07090"
        assert audit.verify().broken is None
    assert "household_business" not in communes.test_client().get("/").get_data(as_text=True)  # others: unchanged
    cookieless = communes.test_client(use_cookies=False)  # the links and the form carry the centre instead
    form = cookieless.get("/procedures/household_business/submit?centre=W07090").get_data(as_text=True)
    assert 'action="/procedures/household_business/submit?centre=W07090"' in form


def test_an_unknown_centre_is_a_clear_404_and_a_forgotten_one_falls_back(communes):
    from onestop.web.portal import CENTRE_COOKIE

    citizen = communes.test_client()
    missing = citizen.get("/?centre=NOPE")
    assert missing.status_code == 404 and "Traceback" not in missing.get_data(as_text=True)
    citizen.set_cookie(CENTRE_COOKIE, "GONE")
    page = citizen.get("/")
    assert page.status_code == 200 and "1.013225" in page.get_data(as_text=True)



def _with_record(folder, **changes):
    """A bundled folder's files with its procedure.json changed."""
    import json

    from tests.process_models import bundled_files

    files = []
    for path in bundled_files(folder):
        content = path.read_bytes()
        if path.name == "procedure.json":
            record = {k: v for k, v in json.loads(content).items() if changes.get(k, "") is not None}
            content = json.dumps(record | {k: v for k, v in changes.items() if v is not None},
                                 ensure_ascii=False).encode()
        files.append((path.name, content))
    return files


def test_a_procedure_shows_its_online_level_and_the_centres_own_fee_note(sqlite_app, sqlite_admin_api):
    assert sqlite_admin_api.upload(_with_record("copy_certification", online_level="partial")).status_code == 201
    note = "Miễn lệ phí cho người có công với cách mạng (Nghị quyết 12/2025/NQ-HĐND)"
    assert sqlite_admin_api.put("/procedures/2.000815/local", {"fee_vnd": "3.000 đồng/trang",
                                                                "fee_note": note}).status_code == 200
    client = sqlite_app.test_client()
    client.set_cookie("lang", "en")
    page = client.get("/procedures/2.000815").get_data(as_text=True)
    assert re.search(r'<dd id="fee">3.000 đồng/trang<div class="small muted" id="fee-note">' + re.escape(note), page)
    assert '<dd id="online-level">Partial online public service' in page
    listed = client.get("/").get_data(as_text=True)
    assert '<span class="tag online-level">Partial online public service' in listed
    entry = next(e for e in sqlite_admin_api.get("/procedures").json["procedures"] if e["code"] == "2.000815")
    assert entry["fee_note"] == note and entry["online_level"] == "partial"


def test_a_free_procedure_says_so_and_an_amount_is_written_with_dots(sqlite_app, sqlite_admin_api):
    assert sqlite_admin_api.upload(_with_record("birth_registration")).status_code == 201
    assert sqlite_admin_api.upload(_with_record("driving_licence_exchange")).status_code == 201
    client = sqlite_app.test_client()
    client.set_cookie("lang", "en")
    free = client.get("/procedures/1.001193").get_data(as_text=True)
    assert '<dd id="fee">Free of charge' in free
    paid = client.get("/procedures/3.000347").get_data(as_text=True)
    assert '<dd id="fee">135.000 đồng' in paid


def test_the_catalogue_filters_a_procedure_of_both_levels_under_each(sqlite_app, sqlite_admin_api):
    both = _with_record("copy_certification", level=["province", "commune"])
    assert sqlite_admin_api.upload(both).status_code == 201
    client = sqlite_app.test_client()
    for level in ("province", "commune"):
        assert "2.000815" in client.get(f"/?level={level}").get_data(as_text=True)
    page = client.get("/procedures/2.000815").get_data(as_text=True)
    assert "Cấp xã, cấp tỉnh (liên thông)" in page


def _many(app, count, name="Thủ tục thử nghiệm số"):
    from onestop.services import procedures, templates
    from onestop.services.users import system_user

    with app.app_context():
        actor = system_user()
        for i in range(count):
            files = templates.renamed(templates.files("on_the_spot"), f"9.{i:06d}", f"{name} {i:03d}")
            procedures.upload_procedure(actor, [procedures.Upload(f.name, f.content) for f in files])


def test_a_catalogue_of_hundreds_is_shown_fifty_a_page_with_the_search_kept_across_pages(sqlite_app):
    _many(sqlite_app, 120)
    client = sqlite_app.test_client()
    first = client.get("/?q=thu tuc").get_data(as_text=True)
    assert "120 thủ tục" in first and first.count('<li>\n    <a href="/procedures/') == 50
    assert 'href="/?page=2&amp;q=thu+tuc"' in first and 'rel="prev"' not in first
    last = client.get("/?q=thu tuc&page=3").get_data(as_text=True)
    assert last.count('<li>\n    <a href="/procedures/') == 20 and 'rel="next"' not in last
    assert "Thủ tục thử nghiệm số 119" in last and "3 / 3" in last
    assert client.get("/?page=99").status_code == 200 and client.get("/?page=x").status_code == 200


def test_the_catalogue_shows_a_new_version_and_a_new_procedure_at_once(sqlite_app):
    _many(sqlite_app, 2)
    client = sqlite_app.test_client()
    assert "Thủ tục thử nghiệm số 001" in client.get("/").get_data(as_text=True)
    _many(sqlite_app, 2, name="Tên mới của thủ tục")  # version 2 of both, renamed
    text = client.get("/").get_data(as_text=True)
    assert "Tên mới của thủ tục 001" in text and "Thủ tục thử nghiệm số 001" not in text
    _many(sqlite_app, 3, name="Tên mới của thủ tục")
    assert "3 thủ tục" in client.get("/").get_data(as_text=True)
