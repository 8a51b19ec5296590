"""Connectors (issue 18 item 3): a SpiffArena service task calls a simulator of the tax office, a real
HTTP server on 127.0.0.1, through the worker, and the dossier runs on with the answer in its data;
hosts off the centre's allow list are refused in plain words (at upload when the URL is written out);
a failing call becomes an incident an administrator retries; secrets never show."""

import json
import logging

import pytest

from onestop.models import AuditEvent, ConnectorSecret, Dossier, ServiceCall, User
from onestop.services import connector_runs, connectors, runtime
from onestop.services.connectors import ConnectorFailure, Options, parse_allowed
from tests.support.tax_office import TaxOffice

SECRET = "tk-9f8e7d6c5b4a-s3cr3t"
BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"


def tax_model(url_expression, operator="http/GetRequest", extra_params="", process_id="tax_check"):
    """start -> service task AskTaxOffice (result: taxpayer) -> gateway on the debt -> Clear | Owes."""
    from xml.sax.saxutils import quoteattr

    params = f'<spiffworkflow:parameter id="url" type="str" value={quoteattr(url_expression)}/>' if url_expression else ""
    return (f"{process_id}.bpmn", f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="{BPMN}" xmlns:spiffworkflow="{SPIFF}" id="d" targetNamespace="t">
  <bpmn:process id="{process_id}" isExecutable="true">
    <bpmn:startEvent id="Begin"/>
    <bpmn:sequenceFlow id="f1" sourceRef="Begin" targetRef="AskTaxOffice"/>
    <bpmn:serviceTask id="AskTaxOffice" name="Hỏi cơ quan thuế">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="{operator}" resultVariable="taxpayer">
          <spiffworkflow:parameters>{params}{extra_params}
            <spiffworkflow:parameter id="headers" type="any"
              value="{{'Authorization': 'Bearer SPIFF_SECRET:tax_token'}}"/>
          </spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
    </bpmn:serviceTask>
    <bpmn:sequenceFlow id="f2" sourceRef="AskTaxOffice" targetRef="Debt"/>
    <bpmn:exclusiveGateway id="Debt"/>
    <bpmn:sequenceFlow id="clear" sourceRef="Debt" targetRef="Clear">
      <bpmn:conditionExpression>taxpayer["body"]["debt"] == 0</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="owes" sourceRef="Debt" targetRef="Owes">
      <bpmn:conditionExpression>taxpayer["body"]["debt"] &gt; 0</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:endEvent id="Clear"/>
    <bpmn:endEvent id="Owes"/>
  </bpmn:process>
</bpmn:definitions>""".encode())


@pytest.fixture
def office():
    with TaxOffice() as simulator:
        yield simulator


def _configure(app, admin_api, hosts="127.0.0.1", proxy_url="", attempts=2):
    with app.app_context():
        admin = User.get(User.username == "admin1")
        connectors.save_settings(admin, hosts, proxy_url)
        connectors.save_secret(admin, "tax_token", SECRET)
        current = runtime.current().connectors
        runtime.current().connectors = Options(keys=current.keys, timeout_seconds=2, attempts=attempts,
                                               backoff_seconds=0.05)


def _start(admin_api, tax_code, model):
    assert admin_api.upload([model]).status_code == 201, admin_api.upload([model]).json
    started = admin_api.post("/dossiers", {"procedure": model[0].removesuffix(".bpmn"), "data": {"tax_code": tax_code}})
    assert started.status_code == 201, started.json
    return started


def _dossier(app, code):
    with app.app_context():
        return Dossier.get(Dossier.code == code)


def _run_worker(app):
    with app.app_context():
        return connector_runs.run_due()


def _everything_said(app, admin_api, code, caplog):
    """Every answer, log line and audit event about the dossier, as one text."""
    with app.app_context():
        events = [json.dumps([e.action, e.detail], ensure_ascii=False) for e in AuditEvent.select()]
    answers = [admin_api.get(f"/dossiers/{code}").get_data(as_text=True)]
    return "\n".join(events + answers + [r.getMessage() for r in caplog.records])


def test_a_connector_task_calls_the_tax_office_and_the_dossier_continues_with_the_mapped_data(
        app, admin_api, office, caplog):
    caplog.set_level(logging.DEBUG)
    _configure(app, admin_api)
    # The token also goes in the query string, which the HTTP library logs at DEBUG.
    started = _start(admin_api, "0202", tax_model(f"'{office.url}/taxpayers/' + tax_code + '?key=SPIFF_SECRET:tax_token'"))
    code = started.json["code"]
    assert started.json["state"] == "active" and office.requests == []  # the request made no call
    with app.app_context():
        [pending] = ServiceCall.select()
        assert (pending.kind, pending.operator, pending.lock_expires_at) == ("connector", "http/GetRequest", None)
        assert pending.params["headers"] == {"Authorization": "Bearer SPIFF_SECRET:tax_token"}  # named, not filled
    assert _run_worker(app) == 1
    dossier = _dossier(app, code)
    assert dossier.state == "completed"
    assert dossier.data["taxpayer"] == {"body": {"name": "Công ty Sông Hồng", "debt": 1500000},
                                        "mimetype": "application/json", "http_status": 200,
                                        "operator_identifier": "http/GetRequest"}
    assert "Owes" in [h["element_id"] for h in admin_api.get(f"/dossiers/{code}/history").json["history"]]
    [request] = office.requests
    assert request["path"] == f"/taxpayers/0202?key={SECRET}" and request["headers"]["Authorization"] == f"Bearer {SECRET}"
    assert any("/taxpayers/0202?key=********" in r.getMessage() for r in caplog.records)  # logged, masked
    with app.app_context():
        assert ServiceCall.select().count() == 0  # answered: no longer pending
        assert SECRET not in ConnectorSecret.get().ciphertext
    assert SECRET not in _everything_said(app, admin_api, code, caplog)
    assert _run_worker(app) == 0  # made once


def test_a_secret_a_service_echoes_back_is_masked_in_the_dossiers_data(sqlite_app, sqlite_admin_api, office, caplog):
    _configure(sqlite_app, sqlite_admin_api)
    code = _start(sqlite_admin_api, "0101", tax_model(f"'{office.url}/echo'", process_id="echo"))
    _run_worker(sqlite_app)
    dossier = _dossier(sqlite_app, code.json["code"])
    assert dossier.data["taxpayer"]["body"]["headers"]["Authorization"] == "Bearer ********"
    assert SECRET not in json.dumps(dossier.data, ensure_ascii=False)
    assert SECRET not in _everything_said(sqlite_app, sqlite_admin_api, code.json["code"], caplog)


def test_a_literal_url_to_a_host_not_on_the_allow_list_is_refused_at_upload_naming_the_task(
        sqlite_app, sqlite_admin_api, office):
    _configure(sqlite_app, sqlite_admin_api, hosts="thue.gov.vn")
    refused = sqlite_admin_api.upload([tax_model(f"'{office.url}/taxpayers/0101'")])
    assert refused.status_code == 422
    [problem] = refused.json["details"]
    assert problem["element_id"] == "AskTaxOffice"
    assert f"127.0.0.1:{office.port} is not on this centre's list of allowed hosts" in problem["message"]
    assert sqlite_admin_api.upload([tax_model("'https://thue.gov.vn/api/taxpayers'")]).status_code == 201


def test_a_computed_url_to_a_host_not_on_the_allow_list_is_refused_when_called_and_the_dossier_is_an_incident(
        sqlite_app, sqlite_admin_api, office):
    _configure(sqlite_app, sqlite_admin_api, hosts="thue.gov.vn")
    code = _start(sqlite_admin_api, "0101", tax_model(f"'{office.url}/taxpayers/' + tax_code")).json["code"]
    _run_worker(sqlite_app)
    dossier = _dossier(sqlite_app, code)
    assert dossier.state == "error" and dossier.error_element == "AskTaxOffice"
    assert "is not on this centre's list of allowed hosts" in dossier.error_message
    assert office.requests == []


def test_a_failing_call_is_tried_again_becomes_an_incident_is_retried_and_the_dossier_continues(app, admin_api, office):
    _configure(app, admin_api, attempts=2)
    office.failures_left = 10
    code = _start(admin_api, "0101", tax_model(f"'{office.url}/flaky/' + tax_code")).json["code"]
    _run_worker(app)
    assert office.paths() == ["/flaky/0101"] * 2  # two tries, then the incident
    dossier = _dossier(app, code)
    assert (dossier.state, dossier.error_element) == ("error", "AskTaxOffice")
    assert "127.0.0.1 answered HTTP 503" in dossier.error_message
    office.failures_left = 0
    with app.app_context():
        from onestop.services import lifecycle

        admin = User.get(User.username == "admin1")
        assert code in [d.code for d in lifecycle.failed(admin)] and ServiceCall.select().count() == 0
        lifecycle.recover(admin, code, "retry")
        assert [(c.element_id, c.lock_expires_at) for c in ServiceCall.select()] == [("AskTaxOffice", None)]
    assert _run_worker(app) == 1
    dossier = _dossier(app, code)
    assert dossier.state == "completed" and dossier.data["taxpayer"]["body"]["debt"] == 0


def test_a_brief_outage_is_ridden_over_by_tries_with_growing_pauses(sqlite_app, sqlite_admin_api, office):
    _configure(sqlite_app, sqlite_admin_api, attempts=3)
    office.failures_left = 2
    code = _start(sqlite_admin_api, "0101", tax_model(f"'{office.url}/flaky/' + tax_code")).json["code"]
    _run_worker(sqlite_app)
    assert office.paths() == ["/flaky/0101"] * 3
    assert _dossier(sqlite_app, code).state == "completed"


def test_a_service_that_does_not_answer_in_time_is_a_plain_timeout(sqlite_app, sqlite_admin_api, office):
    _configure(sqlite_app, sqlite_admin_api, attempts=1)
    office.slow_seconds = 1.5
    with sqlite_app.app_context():
        runtime.current().connectors.timeout_seconds = 0.3
        with pytest.raises(ConnectorFailure, match=r"127\.0\.0\.1 did not answer within 0\.3 s"):
            connectors.call(User.get(User.username == "admin1").centre_id, "http/GetRequest", {"url": f"{office.url}/slow"})


def test_a_post_sends_its_data_as_json_and_a_redirect_or_a_4xx_is_a_plain_failure(sqlite_app, sqlite_admin_api, office):
    _configure(sqlite_app, sqlite_admin_api, attempts=1)
    with sqlite_app.app_context():
        centre = User.get(User.username == "admin1").centre_id
        posted = connectors.call(centre, "http/PostRequest", {"url": f"{office.url}/declarations",
                                                              "data": {"tax_code": "0101", "amount": 12}})
        assert posted["body"] == {"accepted": True, "received": {"tax_code": "0101", "amount": 12}}
        with pytest.raises(ConnectorFailure, match="answered with a redirect"):
            connectors.call(centre, "http/GetRequest", {"url": f"{office.url}/redirect"})
        with pytest.raises(ConnectorFailure, match="answered HTTP 404"):
            connectors.call(centre, "http/GetRequestV2", {"url": f"{office.url}/taxpayers/9999"})
        with pytest.raises(ConnectorFailure, match="names the secret 'missing'"):
            connectors.call(centre, "http/GetRequest", {"url": f"{office.url}/echo", "headers": {"X": "SPIFF_SECRET:missing"}})
        with pytest.raises(ConnectorFailure, match="there is no connector 'tax/LookupDebt'"):
            connectors.call(centre, "tax/LookupDebt", {"tax_code": "0101"})
    assert office.paths() == ["/declarations", "/redirect", "/taxpayers/9999"]


def test_an_operator_onestop_lacks_goes_to_the_centres_connector_proxy_with_its_key(sqlite_app, sqlite_admin_api, office):
    _configure(sqlite_app, sqlite_admin_api, hosts="", proxy_url=office.url)
    with sqlite_app.app_context():
        admin = User.get(User.username == "admin1")
        connectors.save_secret(admin, "CONNECTOR_PROXY_API_KEY", "proxy-key-123")
        listed, problem = connectors.commands(admin)
        assert problem is None and "tax/LookupDebt" in [c["id"] for c in listed] and "http/GetRequest" in [
            c["id"] for c in listed]
    extra = '<spiffworkflow:parameter id="tax_code" type="str" value="tax_code"/>'
    code = _start(sqlite_admin_api, "0202", tax_model("", operator="tax/LookupDebt", extra_params=extra,
                                                      process_id="proxied")).json["code"]
    _run_worker(sqlite_app)
    dossier = _dossier(sqlite_app, code)
    assert dossier.state == "completed" and dossier.data["taxpayer"]["body"] == {"debt": 1500000}
    done = office.requests[-1]
    assert done["path"] == "/v1/do/tax/LookupDebt"
    assert done["headers"]["Spiff-Connector-Proxy-Api-Key"] == "proxy-key-123"
    sent = json.loads(done["body"])
    assert sent["tax_code"] == "0202" and sent["headers"] == {"Authorization": f"Bearer {SECRET}"}
    assert sent["spiff__task_data"] == {}  # the dossier's data is not handed to the proxy


def test_a_name_that_resolves_to_an_internal_address_is_refused_unless_that_address_is_listed():
    named_only, _ = parse_allowed("localhost")
    with pytest.raises(ConnectorFailure, match="resolves to 127.0.0.1, an internal address"):
        connectors.check(None, "http://localhost:8080/x", named_only)
    with pytest.raises(ConnectorFailure, match="not on this centre's list"):
        connectors.check(None, "http://169.254.169.254/latest/meta-data", named_only)
    both, _ = parse_allowed("localhost\n127.0.0.1")
    target = connectors.check(None, "http://localhost:8080/x?y=1", both)
    assert (target.address, target.port, target.path) == ("127.0.0.1", 8080, "/x?y=1")
    ported, _ = parse_allowed("127.0.0.1:9000\n*.gdt.gov.vn")
    with pytest.raises(ConnectorFailure, match="127.0.0.1:8080 is not on"):
        connectors.check(None, "http://127.0.0.1:8080/", ported)
    assert connectors.check(None, "http://127.0.0.1:9000/", ported).port == 9000
    for bad in ("ftp://127.0.0.1/", "http://user:pw@127.0.0.1:9000/", "not a url", None):
        with pytest.raises(ConnectorFailure):
            connectors.check(None, bad, ported)


def test_the_allow_list_says_which_line_it_cannot_read():
    allowed, problems = parse_allowed("thue.gov.vn\n# a comment\nhttp://x.vn/path\n10.0.0.0/8\napi.vn:99999")
    assert problems == ["line 3: 'http://x.vn/path': write the host only (and its port), not a URL",
                        "line 5: 'api.vn:99999' has a port that is not a number from 1 to 65535"]
    assert allowed.lets_name("THUE.gov.vn", 443)


def test_secrets_are_stored_encrypted_and_read_only_with_the_key_they_were_saved_with(sqlite_app, sqlite_admin_api):
    _configure(sqlite_app, sqlite_admin_api)
    with sqlite_app.app_context():
        from cryptography.fernet import Fernet

        row = ConnectorSecret.get()
        assert SECRET not in row.ciphertext and row.name == "tax_token"
        runtime.current().connectors = Options(keys=Fernet.generate_key().decode())
        with pytest.raises(ConnectorFailure, match="saved with another connector key"):
            connectors.secrets.reveal(row.centre_id, "tax_token")
        admin = User.get(User.username == "admin1")
        assert [s.name for s in connectors.secrets_of(admin)] == ["tax_token"]


def test_a_drafts_review_marks_a_literal_url_off_the_allow_list_as_an_error_that_blocks_publishing(
        sqlite_app, sqlite_admin_api):
    from onestop.engine import SourceFile
    from onestop.services import onboarding

    _configure(sqlite_app, sqlite_admin_api, hosts="thue.gov.vn")
    name, content = tax_model("'http://10.0.0.7/taxpayers'")
    with sqlite_app.app_context():
        review = onboarding.review_files(User.get(User.username == "admin1"), [SourceFile(name, content)])
    [finding] = [f for f in review.findings if f.element_id == "AskTaxOffice"]
    assert finding.level == "error" and "10.0.0.7:80 is not on this centre's list of allowed hosts" in finding.message
    assert not review.publishable


def test_the_embedded_worker_thread_makes_the_call_on_its_own_and_the_dossier_runs_on(app, admin_api, office,
                                                                                      timer_thread):
    import time

    _configure(app, admin_api)
    code = _start(admin_api, "0101", tax_model(f"'{office.url}/taxpayers/' + tax_code")).json["code"]
    deadline = time.monotonic() + 10
    while _dossier(app, code).state == "active" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _dossier(app, code).state == "completed"
    assert office.paths() == ["/taxpayers/0101"]


def test_a_call_whose_dossier_was_stopped_meanwhile_is_not_made(sqlite_app, sqlite_admin_api, office):
    from onestop.services import lifecycle

    _configure(sqlite_app, sqlite_admin_api)
    code = _start(sqlite_admin_api, "0101", tax_model(f"'{office.url}/taxpayers/' + tax_code")).json["code"]
    with sqlite_app.app_context():
        lifecycle.end(User.get(User.username == "admin1"), code, "stopped", "Người nộp đề nghị dừng giải quyết")
    assert _run_worker(sqlite_app) == 0
    with sqlite_app.app_context():
        assert ServiceCall.select().count() == 0
    assert office.requests == [] and _dossier(sqlite_app, code).state == "cancelled"


def test_a_call_a_stopped_worker_left_running_is_not_made_again_on_its_own_but_becomes_an_incident(
        sqlite_app, sqlite_admin_api, office):
    from datetime import timedelta

    from onestop.models import utcnow

    _configure(sqlite_app, sqlite_admin_api)
    code = _start(sqlite_admin_api, "0101", tax_model(f"'{office.url}/taxpayers/' + tax_code")).json["code"]
    with sqlite_app.app_context():  # as a worker that claimed the call and died 20 minutes ago leaves it
        ServiceCall.update(worker_id="onestop-connectors", lock_expires_at=utcnow() - timedelta(minutes=5)).execute()
    assert _run_worker(sqlite_app) == 0
    dossier = _dossier(sqlite_app, code)
    assert (dossier.state, dossier.error_element) == ("error", "AskTaxOffice")
    assert "the worker stopped while this connector call was being made" in dossier.error_message
    assert office.requests == []


def test_https_is_verified_a_certificate_no_trusted_authority_vouches_for_is_refused_plainly(sqlite_app, sqlite_admin_api,
                                                                                      tmp_path):
    from tests.support.tax_office import self_signed

    _configure(sqlite_app, sqlite_admin_api, attempts=1)
    certificate, key = self_signed(tmp_path)
    with TaxOffice(tls_files=(certificate, key)) as office, sqlite_app.app_context():
        centre = User.get(User.username == "admin1").centre_id
        with pytest.raises(ConnectorFailure, match="127.0.0.1's TLS certificate could not be verified"):
            connectors.call(centre, "http/GetRequest", {"url": f"{office.url}/taxpayers/0101"})
        # The province's own authority, named in ONESTOP_CONNECTOR_CA_FILE, vouches for it.
        runtime.current().connectors = Options(keys=runtime.current().connectors.keys, ca_file=str(certificate))
        answer = connectors.call(centre, "http/GetRequest", {"url": f"{office.url}/taxpayers/0101"})
        assert answer["body"] == {"name": "Hộ kinh doanh Minh Anh", "debt": 0}


def test_a_connector_proxys_error_and_its_services_failure_are_plain_failures_and_a_bare_result_is_taken(
        sqlite_app, sqlite_admin_api, office):
    _configure(sqlite_app, sqlite_admin_api, hosts="", proxy_url=office.url, attempts=1)
    with sqlite_app.app_context():
        centre = User.get(User.username == "admin1").centre_id
        with pytest.raises(ConnectorFailure, match="tax/Broken failed: TaxOfficeDown: maintenance"):
            connectors.call(centre, "tax/Broken", {})
        with pytest.raises(ConnectorFailure, match="the service behind the connector proxy answered HTTP 404"):
            connectors.call(centre, "tax/Upstream404", {})
        assert connectors.call(centre, "tax/Plain", {}) == {"debt": 7}
        with pytest.raises(ConnectorFailure, match="answered tax/Missing with HTTP 404"):
            connectors.call(centre, "tax/Missing", {})


def test_a_dossier_moved_while_its_call_was_made_gets_the_answer_on_a_fresh_read_without_an_error(
        sqlite_app, sqlite_admin_api, office, caplog, monkeypatch):
    """Someone's step commits after the call's worker read the dossier and before the engine read its
    state: the answer is stored on a fresh read, as when the save itself finds the dossier moved (a
    traceback in a live server's log before)."""
    _configure(sqlite_app, sqlite_admin_api)
    code = _start(sqlite_admin_api, "0202", tax_model(f"'{office.url}/taxpayers/' + tax_code")).json["code"]
    real_model_for = connector_runs.model_for

    def moved_meanwhile(version):
        monkeypatch.setattr(connector_runs, "model_for", real_model_for)  # once
        Dossier.update(serial=Dossier.serial + 1).where(Dossier.code == code).execute()
        return real_model_for(version)

    with sqlite_app.app_context():
        runtime.engine().forget([Dossier.get(Dossier.code == code).id])  # its state is read, not kept
        monkeypatch.setattr(connector_runs, "model_for", moved_meanwhile)
    assert _run_worker(sqlite_app) == 1
    assert _dossier(sqlite_app, code).state == "completed"
    assert len(office.requests) == 1  # the call was made once
    assert "ERROR" not in [record.levelname for record in caplog.records], caplog.text
