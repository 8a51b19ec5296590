"""Tenant isolation, route by route: every route of the app is tried with another centre's dossier,
task, attachment and procedure, by a signed-in administrator of a neighbouring commune (desk), with
its API token (API) and anonymously (portal). Nothing of the other centre may be read or changed."""

import json
import re

import pytest

from onestop.models import (
    Attachment,
    AuditEvent,
    Centre,
    CitizenDocument,
    Dossier,
    Procedure,
    User,
    WebhookDelivery,
    WebhookSecret,
    WorkItem,
)
from onestop.services import centres, connectors, dossiers, lifecycle, onboarding, papers, procedures, units
from onestop.services.attachments import Upload
from onestop.web.openapi import REQUEST_BODIES
from tests.conftest import make_user
from tests.process_models import bundled_files
from tests.services.test_papers import png
from tests.web.pages import PDF, csrf, sign_in

SECRET_NAME = "Phạm Bí Mật Xã Bên"
SECRET_FILE = PDF.replace(b"/Catalog", b"/Catalog /Secret (xa-ben)")
CONNECTOR_SECRET = "khoa-ket-noi-xa-ben-0001"  # B's connector secret: its name is typed, its value never shown
SECRETS = (SECRET_NAME.encode(), json.dumps(SECRET_NAME).encode()[1:-1], b"022190099999", b"xa-ben",
           CONNECTOR_SECRET.encode())
# Routes that read no centre's data whatever their parameters, or are not ours to scope.
UNSCOPED = {"static", "admin.static", "public.health", "i18n.choose", "api.openapi", "desk.login", "desk.logout",
            "admin.sign_out",
            "calendar.clear"}  # a date of one's own calendar
# Routes that a commune administrator may not use at all: refused for the role before any lookup.
ROLE_REFUSED = {"api.procedure_coverage", "api.start_rollout", "onboard.roll_out",
                # an ordinary token serves no external-task topic (a worker token of the other centre:
                # tests/web/test_external_tasks.py)
                "external_task.get_external_task", "external_task.complete_external_task",
                "external_task.external_task_failure", "external_task.extend_external_task_lock",
                "external_task.external_task_bpmn_error",
                "external_task.unlock_external_task"}
RECORD_PAGES = {"details_view", "edit_view", "delete_view"}


def _upload(actor, folder):
    return procedures.upload_procedure(actor, [procedures.Upload(p.name, p.read_bytes()) for p in bundled_files(folder)])


@pytest.fixture
def foreign(app):
    """Commune A's administrator (us) and commune B's dossier, task, file and own procedure."""
    with app.app_context():
        system, _ = make_user("system", ("system_admin",))
        centres.import_units(system, [22])
        ours, theirs = Centre.get(Centre.code == "W07090"), Centre.get(Centre.code == "W07093")
        admin, token = make_user("a.admin", ("admin", "officer", "leader"), centre=ours, password="mật-khẩu-A-2026")
        their_officer, _ = make_user("b.canbo", ("officer", "admin"), centre=theirs)
        their_subscription = _their_webhook(their_officer)
        _upload(admin, "copy_certification")
        _upload(their_officer, "copy_certification")
        _upload(their_officer, "marriage_registration")  # a procedure only B has
        dossier = dossiers.start_dossier(their_officer, "2.000815", {
            "requester_full_name": SECRET_NAME, "requester_citizen_id": "022190099999",
            "papers": [{"paper_name": "Văn bằng", "pages": 2, "copies": 1}]})
        lifecycle.request_supplement(their_officer, dossier.code, "Bản chính văn bằng")
        lifecycle.supplement_received(their_officer, dossier.code, "đã nộp", {"files": Upload("mat.pdf", SECRET_FILE)})
        task = WorkItem.get(WorkItem.dossier == dossier.id)
        attachment = Attachment.get(Attachment.dossier == dossier.id)
        metadata = procedures.catalogue_entry(their_officer, "2.000815")[1].metadata
        scanned = papers.prepare(their_officer, metadata, "022190099999", [papers.SlotInput(
            0, [Upload("trang.png", png("white"))], original_seen=True, confirmed=True)])
        [their_paper] = papers.record(their_officer, dossier, "022190099999", scanned)
        their_unit = units.create_unit(their_officer, "TP", "Phòng Tư pháp")
        connectors.save_secret(their_officer, "b_token", CONNECTOR_SECRET)
        draft = onboarding.submit(their_officer, [procedures.Upload(p.name, p.read_bytes())
                                                  for p in bundled_files("copy_certification")])
        from onestop.services import practice
        from tests.services.test_practice import APPLICATION

        trial = practice.start(their_officer, draft.draft_id, APPLICATION)
        from onestop.services import catalogue
        from tests.services.test_catalogue import reference_bytes

        one_record = json.dumps(json.loads(reference_bytes())[:1]).encode()
        their_import = catalogue.import_file(their_officer, "b.json", one_record, run_tests=False)
        from onestop.services import lookup_tables

        lookup_tables.put(their_officer, "fees_b", "fees_b.json", json.dumps({"ban_sao": 2000}).encode())
        their_ticket, their_counter = _their_queue(their_officer, theirs.code)
        from onestop.models import Payment

        their_payment = Payment.create(centre=theirs.id, dossier=dossier.id, order_ref=f"{dossier.code}-P1",
                                       amount=150000, stage="submission", incident="down: the gateway is down")
        rows = {"dossier": dossier.id, "audit": AuditEvent.select().where(AuditEvent.centre == theirs.id).first().id,
                "procedure": Procedure.get((Procedure.centre == theirs.id) & (Procedure.code == "1.000894")).id,
                "unit": their_unit.id, "user": their_officer.id, "centre": theirs.id}
        yield {"token": token, "code": dossier.code, "task": task.id, "attachment": attachment.id,
               "procedure": "1.000894", "dossier_id": dossier.id, "draft": draft.draft_id, "rows": rows,
               "practice": trial.id, "practice_task": trial.ready[0]["id"], "unit_code": "TP", "username": "b.canbo",
               "import": their_import.id, "table": "fees_b", "paper": their_paper.id,
               "document": CitizenDocument.get(CitizenDocument.dossier == dossier.id).id,
               "counter": their_counter, "ticket": their_ticket.id, "ticket_token": their_ticket.token,
               "payment": their_payment.id, "subscription": their_subscription.id,
               "webhook_secret": WebhookSecret.get(WebhookSecret.subscription == their_subscription.id).id,
               "delivery": WebhookDelivery.get(WebhookDelivery.subscription == their_subscription.id).id}


def _their_webhook(officer):
    """B's webhook subscription (its deliveries are written as B's dossier is received)."""
    from onestop.services import webhooks

    connectors.save_settings(officer, "127.0.0.1", "")
    return webhooks.subscribe(officer, "http://127.0.0.1:9/b-hook", ["dossier.received"])[0]



def _their_queue(officer, centre_code):
    """B's queue: a group, a counter, and a ticket taken today (the centre opened all day for it)."""
    from onestop.models import local_today
    from onestop.services import deadlines, queue

    deadlines.set_office_hours(officer, [("00:00", "23:59")], None)
    deadlines.set_day(officer, local_today(), True, "open for the test")
    group = queue.save_group(officer, "A", "Hộ tịch")
    counter = queue.save_counter(officer, "1", "Quầy 1", [group.id])
    return queue.issue(centre_code, group.id), counter.id


PROCEDURE_ENDPOINTS = {"api.get_procedure", "api.adopt_template", "api.set_local_override", "api.offered_template",
                       "api.procedure_coverage", "portal.procedure", "portal.submit", "desk.intake_form",
                       "desk.intake_receipt", "onboard.roll_out", "modeller.open"}
BODY = {"reason": "thử", "note": "thử", "how": "stopped", "new_due": "2027-03-01", "name": "thử", "data": {},
        "working": True, "procedure": "1.000894", "lanes": {}, "to": "W07093", "key": "AAAAA-BBBBB", "level": "hai_long"}


def _api_body(endpoint):
    """BODY, less the fields an operation that takes no others would refuse before any lookup."""
    declared = REQUEST_BODIES.get(endpoint.removeprefix("api."), {})
    if declared.get("additionalProperties") is False:
        return {k: v for k, v in BODY.items() if k in declared["properties"]}
    return BODY


def _url(rule, ids):
    values = {}
    for name in rule.arguments:
        if name == "code":
            values[name] = ids["procedure"] if rule.endpoint in PROCEDURE_ENDPOINTS else ids["code"]
        elif name == "task_id":
            values[name] = ids["practice_task"] if rule.endpoint.startswith("testrun.") else ids["task"]
        elif name == "attachment_id":
            values[name] = ids["attachment"]
        elif name in ("paper_id", "document_id"):  # B's paper; a citizen's kept copy (shared in the province)
            values[name] = ids[name.removesuffix("_id")]
        elif name == "kind":
            values[name] = "supplement"
        elif name == "day":
            values[name] = "2026-12-05"
        elif name == "draft_id":
            values[name] = ids["draft"]
        elif name in ("counter_id", "ticket_id"):
            values[name] = ids[name.removesuffix("_id")]
        elif name == "token":
            values[name] = ids["ticket_token"]
        elif name in ("practice_id", "unit_code", "username", "import_id", "payment_id"):
            values[name] = ids[name.removesuffix("_id")]
        elif name == "province":
            values[name] = "P22"  # the province's official days: the same for all its communes, ours too
        elif name == "form_name":
            values[name] = "application"  # a form of B's draft
        elif name == "how":
            values[name] = "skip"
        elif name == "table_name":
            values[name] = ids["table"]  # B's lookup table, by name within the actor's own centre
        elif name == "export_type":
            values[name] = "csv"
        elif name == "secret":
            values[name] = "b_token"  # B's connector secret
        elif name in ("subscription_id", "delivery_id"):  # B's webhook subscription, one of its deliveries
            values[name] = ids[name.removesuffix("_id")]
        elif name == "secret_id":
            values[name] = ids["webhook_secret"]
        elif name == "centre_id":  # B's centre (the national portal's sync of it)
            values[name] = ids["rows"]["centre"]
    path = rule.rule
    for name, value in values.items():
        path = re.sub(rf"<(?:\w+:)?{name}>", str(value), path)
    assert "<" not in path, f"{rule.endpoint}: give the test a value for each argument of {rule.rule}"
    return path


def _snapshot(app, dossier_id):
    with app.app_context():
        d = Dossier.get_by_id(dossier_id)
        items = [(w.id, w.claimed_by_id) for w in WorkItem.select().where(WorkItem.dossier == dossier_id)]
        return d.serial, d.status, d.state, d.due_at, items, AuditEvent.select().where(AuditEvent.dossier == dossier_id).count()


def test_no_route_reads_or_changes_another_centres_dossier(app, foreign):
    desk = app.test_client()
    assert sign_in(desk, "a.admin", "mật-khẩu-A-2026").status_code == 303
    token = csrf(desk.get("/desk/"))
    before = _snapshot(app, foreign["dossier_id"])
    tried, leaks, wrong = 0, [], []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in UNSCOPED:
            continue
        path = _url(rule, foreign)
        foreign_ids = bool({"code", "task_id", "attachment_id", "draft_id", "practice_id", "unit_code", "username",
                            "import_id", "secret", "counter_id", "ticket_id", "subscription_id", "delivery_id"}
                           & set(rule.arguments))
        view, _, page = rule.endpoint.partition(".")
        if rule.rule.startswith("/admin/") and view in foreign["rows"] and page in RECORD_PAGES:
            path, foreign_ids = f"{path}?id={foreign['rows'][view]}", True  # flask-admin's record pages
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if rule.rule.startswith("/api/"):
                reply = app.test_client().open(path, method=method, json=_api_body(rule.endpoint) if method != "GET" else None,
                                               headers={"Authorization": f"Bearer {foreign['token']}"})
            elif rule.endpoint.split(".")[0] in ("modeller", "panel", "form_builder") and method == "POST" \
                    and rule.endpoint != "form_builder.new":  # the authoring pages' JSON calls
                reply = desk.open(path, method=method, json={"revision": 1, "files": {}}, headers={"X-CSRFToken": token})
            elif rule.rule.startswith(("/desk/", "/admin/")):
                reply = desk.open(path, method=method, data={"csrf_token": token, **{k: v for k, v in BODY.items()
                                                                                    if isinstance(v, str)}}
                                  if method == "POST" else None, headers={"X-CSRFToken": token})
            else:
                reply = app.test_client().open(path, method=method, data={"csrf_token": "x"} if method == "POST" else None)
            tried += 1
            body = reply.get_data()
            # What only B holds: its applicant's name and citizen id, its file (its code is ours to type).
            if any(secret in body for secret in SECRETS):
                leaks.append((method, path, reply.status_code))
            expected = {403} if rule.endpoint in ROLE_REFUSED else {404}
            if page == "delete_view" and method == "POST":
                reply_id = foreign["rows"].get(view)  # flask-admin reads the id of a delete from the form
                reply = desk.post(rule.rule, data={"csrf_token": token, "id": reply_id})
                if foreign_ids and reply.status_code not in (404, 403):
                    wrong.append((method, path, reply.status_code))
                continue
            if foreign_ids and reply.status_code not in expected:
                wrong.append((method, path, reply.status_code))
    assert tried >= 50  # every route and method but the unscoped few
    assert leaks == []
    assert wrong == [], "\n".join(map(str, wrong))
    assert _snapshot(app, foreign["dossier_id"]) == before
    with app.app_context():
        assert [s.name for s in connectors.secrets_of(User.get(User.username == "b.canbo"))] == ["b_token"]
        assert WebhookSecret.select().count() == 1 and WebhookDelivery.get_by_id(foreign["delivery"]).status == "pending"
