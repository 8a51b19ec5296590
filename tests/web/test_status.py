"""The pages and the API take a dossier's statuses from onestop.status: every label is shown in
both languages, and the API schema lists exactly the statuses there are."""

from onestop.status import ENDED, Status


def test_every_status_label_reads_in_english_and_in_vietnamese_on_the_pages(sqlite_app):
    from onestop.web.i18n import CITIZEN_STATUSES, STATUS_NAMES

    shown = {}
    for language in ("en", "vi"):
        with sqlite_app.test_request_context("/", headers={"Cookie": f"lang={language}"}):
            shown[language] = {s: str(STATUS_NAMES[s]) for s in Status} | {
                f"{s} (portal)": str(CITIZEN_STATUSES[s]["label"]) for s in Status if s.citizen_label}
    assert shown["en"] == {s: s.label for s in Status} | {f"{s} (portal)": s.citizen_label for s in Status
                                                          if s.citizen_label}
    assert [s for s in shown["en"] if not shown["vi"][s] or shown["vi"][s] == shown["en"][s]] == []


def test_the_api_schema_lists_the_statuses_and_the_endings_of_the_state_machine(sqlite_app):
    doc = sqlite_app.test_client().get("/api/v1/openapi.json").json
    status = doc["components"]["schemas"]["Dossier"]["properties"]["status"]
    assert status["enum"] == [s.value for s in Status]
    assert "processing 4" in status["description"]
    end = doc["paths"]["/dossiers/{code}/end"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert sorted(end["properties"]["how"]["enum"]) == sorted(s.value for s in ENDED)


def test_the_portal_tags_a_status_the_citizen_waits_on_and_otherwise_shows_the_work(sqlite_app):
    from datetime import datetime
    from types import SimpleNamespace

    from flask import render_template

    def tag(status, state="active"):
        dossier = SimpleNamespace(code="X-1", status=status, state=state, created_at=datetime(2026, 12, 1, 2),
                                  due_at=None, procedure=SimpleNamespace(name="Thủ tục", code="P"))
        with sqlite_app.test_request_context("/", headers={"Cookie": "lang=en"}):
            html = render_template("portal/_progress.html", dossier=dossier,
                                   page={"history": [], "tasks": [], "waiting": []})
        return html.split("<dt>Status</dt><dd>")[1].split("</dd>")[0].strip()

    assert tag("withdrawn") == '<span class="tag">Withdrawn</span>'
    assert tag("stopped") == '<span class="tag bad">Stopped</span>'
    assert tag("not_accepted") == '<span class="tag bad">Not accepted</span>'
    assert tag("supplement_requested") == '<span class="tag warn">Waiting for your documents</span>'
    assert tag("awaiting_financial_obligation") == '<span class="tag warn">Waiting for you to pay the taxes and fees</span>'
    assert tag("processing") == '<span class="tag warn">Being processed</span>'
    assert tag("received", state="error") == '<span class="tag bad">Held up: the centre has been alerted</span>'
    assert tag("returned", state="completed") == '<span class="tag ok">Completed</span>'
