"""The `onestop` command as an administrator types it."""

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import CONFORMANCE, MODELS
from tests.support.commands import Commands

ONESTOP = Path(sys.executable).parent / "onestop"
ROOT = Path(__file__).resolve().parent.parent
_warm: list[Commands] = []  # this module's warm `onestop` process (tests.support.commands)


@pytest.fixture(scope="module", autouse=True)
def _commands():
    _warm.append(Commands())
    yield
    _warm.pop().close()


def run(*args, home, database_url=None, fresh=False):
    """`onestop ARGS...` with ONESTOP_HOME=home: a process of its own, forked from the module's warm one
    (Python started and onestop.cli imported once); `fresh`: the `onestop` script started from nothing."""
    env = dict(os.environ, ONESTOP_HOME=str(home))
    if database_url:
        env["ONESTOP_DATABASE_URL"] = database_url
    if fresh:
        return subprocess.run([str(ONESTOP), *args], env=env, capture_output=True, text=True, timeout=120)
    return _warm[-1].run(*args, env=env, timeout=120)


@pytest.fixture
def migrated(tmp_path, database_templates):
    """The home's database already migrated (a copy of the template), for the tests that are not about
    `onestop init`: their first command finds nothing to migrate, as on any server but the first start."""
    database_templates.sqlite(tmp_path / "onestop.db")


def test_init_creates_the_database_and_running_it_again_changes_nothing(tmp_path):
    from onestop.migrations import MIGRATIONS

    latest = f"schema version {MIGRATIONS[-1][0]}"
    first = run("init", home=tmp_path, fresh=True)
    assert first.returncode == 0 and latest in first.stdout
    assert (tmp_path / "onestop.db").exists()
    again = run("init", home=tmp_path, fresh=True)
    assert again.returncode == 0 and latest in again.stdout


def test_a_command_that_runs_no_model_starts_without_loading_the_engine_the_forms_or_the_rate_limiter(tmp_path):
    """Every command pays for what it imports at each start (half a second of CPU, most of `onestop init`):
    those that run no model leave SpiffWorkflow, the engine, the form checks (jsonschema, jinja2), the rate
    limiter (limits) and the holiday tables unloaded; the commands that need them import them."""
    heavy = ("onestop.engine", "SpiffWorkflow", "onestop.formdefs", "jsonschema", "jinja2", "limits", "holidays")
    shown = ("import sys\nfrom onestop import cli\ncode = cli.main(sys.argv[1:])\n"
             f"print(sorted({{m.split('.')[0] if not m.startswith('onestop.') else m for m in sys.modules}} & {set(heavy)!r}))\n"
             "sys.exit(code)")
    env = dict(os.environ, ONESTOP_HOME=str(tmp_path))
    done = subprocess.run([sys.executable, "-c", shown, "init"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout  # the runtime every command builds, migrations
    validated = subprocess.run([sys.executable, "-c", shown, "validate", str(MODELS / "review.bpmn"),
                                str(MODELS / "receive-schema.json")], env=env, capture_output=True, text=True, timeout=120)
    assert validated.returncode == 0, validated.stderr
    assert "'onestop.engine'" in validated.stdout and "'jsonschema'" in validated.stdout  # loaded when needed


@pytest.mark.corpus
def test_validate_accepts_a_good_model_and_names_what_is_wrong_with_a_bad_one(tmp_path):
    good = run("validate", str(MODELS / "review.bpmn"), str(MODELS / "receive-schema.json"), home=tmp_path)
    assert good.returncode == 0 and "valid: starts process review" in good.stdout
    bad = run("validate", str(CONFORMANCE / "hostile" / "missing_sequence_flow_target.bpmn"), home=tmp_path)
    assert bad.returncode == 1
    assert "Flow_2: sequenceFlow Flow_2 has no target" in bad.stderr
    xxe = run("validate", str(CONFORMANCE / "hostile" / "xxe_external_entity.bpmn"), home=tmp_path)
    assert xxe.returncode == 1 and "DOCTYPE" in xxe.stderr and "root:" not in xxe.stderr + xxe.stdout
    assert "Traceback" not in bad.stderr + xxe.stderr


@pytest.mark.usefixtures("migrated")
def test_user_create_prints_a_token_once_on_the_last_line(tmp_path):
    created = run("user", "create", "canbo1", "--role", "officer", "--token", home=tmp_path)
    assert created.returncode == 0
    token = created.stdout.strip().splitlines()[-1]
    assert token.startswith("os_") and len(token) > 30
    import sqlite3

    with sqlite3.connect(tmp_path / "onestop.db") as conn:
        stored = [row[0] for row in conn.execute("select token_hash from apitoken")]
    assert token not in stored and len(stored) == 1
    again = run("user", "create", "canbo1", "--role", "officer", home=tmp_path)
    assert again.returncode == 1 and "already exists" in again.stderr
    wrong = run("user", "create", "canbo2", "--role", "wizard", home=tmp_path)
    assert wrong.returncode == 1 and "unknown role" in wrong.stderr


@pytest.mark.corpus
@pytest.mark.usefixtures("migrated")
def test_import_takes_a_procedure_folder_and_reports_an_unchanged_one(tmp_path):
    folder = tmp_path / "review"
    folder.mkdir()
    for name in ("review.bpmn", "receive-schema.json"):
        (folder / name).write_bytes((MODELS / name).read_bytes())
    first = run("import", str(folder), home=tmp_path)
    assert first.returncode == 0 and "imported as review v1" in first.stdout
    second = run("import", str(folder), home=tmp_path)
    assert second.returncode == 0 and "unchanged as review v1" in second.stdout
    broken = run("import", str(CONFORMANCE / "hostile" / "malformed_xml.bpmn"), home=tmp_path)
    assert broken.returncode == 1 and "not well-formed XML" in broken.stderr


@pytest.mark.usefixtures("migrated")
def test_search_rebuild_makes_the_index_again_after_rows_were_changed_by_hand(tmp_path):
    import sqlite3

    assert run("import", str(ROOT / "process_models" / "birth_registration"), home=tmp_path).returncode == 0
    with sqlite3.connect(tmp_path / "onestop.db") as db:
        db.execute('DELETE FROM "procedure_search"')
    rebuilt = run("search", "rebuild", home=tmp_path)
    assert rebuilt.returncode == 0 and "search index rebuilt: 1 procedures, 0 dossiers" in rebuilt.stdout
    with sqlite3.connect(tmp_path / "onestop.db") as db:
        found = db.execute("SELECT rowid FROM procedure_search WHERE procedure_search MATCH 'giay* AND khai AND sinh'")
        assert len(found.fetchall()) == 1


@pytest.mark.usefixtures("migrated")
def test_a_province_and_its_communes_run_the_bundled_catalogue_after_a_handful_of_commands(tmp_path):
    from tests.process_models import BUNDLED

    assert run("centres", "import", "--province", "22", home=tmp_path).stdout.startswith(
        "1 province centre(s) and 54 commune centre(s) created")
    for folder in ("copy_certification", "marriage_registration"):
        assert run("import", str(BUNDLED / folder), home=tmp_path).returncode == 0
    pack = tmp_path / "pack.zip"
    assert run("pack", "export", "--centre", "default", "-o", str(pack), home=tmp_path).returncode == 0
    first = run("rollout", str(pack), "--to", "province:22/*", home=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "2 template(s) published at P22" in first.stderr and "54/54 centres" in first.stderr
    assert first.stdout.strip().endswith("108 adopted")
    again = run("rollout", str(pack), "--to", "province:22/*", home=tmp_path)
    assert again.stdout.strip().endswith("108 unchanged")
    listed = json.loads(run("centres", "list", "--json", "--parent", "P22", home=tmp_path).stdout)
    assert len(listed) == 54 and {c["parent"] for c in listed} == {"P22"} and listed[0]["level"] == "commune"
    officer = run("user", "create", "canbo.halong", "--role", "officer", "--centre", listed[0]["code"], home=tmp_path)
    assert officer.returncode == 0
    tampered = tmp_path / "bad.zip"
    with zipfile.ZipFile(pack) as source, zipfile.ZipFile(tampered, "w") as copy:
        for name in source.namelist():
            content = source.read(name)
            copy.writestr(name, content + b" " if name.endswith("procedure.json") else content)
    refused = run("rollout", str(tampered), "--to", "province:22/*", home=tmp_path)
    assert refused.returncode == 1 and "nothing was changed" in refused.stderr and "Traceback" not in refused.stderr
    for bad in (("rollout", "no-such.zip", "--to", "province:22/*"), ("rollout", str(pack), "--to", "province:x/*"),
                ("rollout", str(pack), "--to", "W99999"), ("centres", "import", "--province", "99"),
                ("centres", "list", "--parent", "NOPE"), ("pack", "export", "9.999", "-o", str(tmp_path / "x.zip"))):
        wrong = run(*bad, home=tmp_path)
        assert wrong.returncode == 1 and wrong.stderr.startswith("error:") and "Traceback" not in wrong.stderr, bad


@pytest.mark.usefixtures("migrated")
def test_calendar_import_takes_a_file_of_notices_whole_or_not_at_all(tmp_path):
    good = tmp_path / "2028.csv"
    good.write_text("date,working,name,source,source_date\n"
                    "2028-01-03,false,Nghỉ hoán đổi,Công văn 1/VPCP-KGVX,2027-12-20\n"
                    "2028-01-08,true,Làm bù,Công văn 1/VPCP-KGVX,2027-12-20\n", encoding="utf-8")
    done = run("calendar", "import", str(good), home=tmp_path)
    assert done.returncode == 0 and "2 day(s) added, 0 replaced in the national calendar" in done.stdout
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"date": "2028-02-30", "working": False, "name": "A", "source": "B"},
                               {"date": "2028-03-01", "working": "maybe", "name": "C", "source": "D"}]))
    refused = run("calendar", "import", str(bad), home=tmp_path)
    assert refused.returncode == 1 and "nothing was imported" in refused.stderr
    assert "row 1: date must be a date" in refused.stderr and "row 2: working must be true or false" in refused.stderr
    again = run("calendar", "import", str(good), home=tmp_path)
    assert "0 day(s) added, 2 replaced" in again.stdout


@pytest.mark.usefixtures("migrated")
def test_identity_codes_are_imported_from_the_national_list_and_a_merge_is_refused_in_the_past(tmp_path):
    from onestop.models import local_today

    assert run("centres", "import", "--province", "22", home=tmp_path).returncode == 0
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("ma_dvhc,ma_dinh_danh\n07090,000.21.05.H22\n99999,000.21.06.H22\n07093,H22\n", encoding="utf-8")
    refused = run("centres", "codes", "import", str(wrong), home=tmp_path)
    assert refused.returncode == 1 and "row 3" in refused.stderr and "row 4" in refused.stderr
    good = tmp_path / "codes.csv"
    good.write_text("\ufeffma_dvhc;ma_dinh_danh\n07090;000.21.05.H22\n22;000.00.00.H22\n", encoding="utf-8")
    imported = run("centres", "codes", "import", str(good), home=tmp_path)
    assert imported.returncode == 0 and "2 centre(s) got their identity code" in imported.stdout
    listed = {c["code"]: c for c in json.loads(run("centres", "list", "--json", home=tmp_path).stdout)}
    assert listed["W07090"]["agency_code"] == "000.21.05.H22" and listed["W07090"]["ready"] is True
    assert listed["W07093"]["ready"] is False
    past = run("centres", "merge", "W07090", "--into", "W07093", "--on", "2020-01-01", home=tmp_path)
    assert past.returncode == 1 and "in the past" in past.stderr
    merged = run("centres", "merge", "W07090", "--into", "W07093", "--on", local_today().isoformat(), home=tmp_path)
    assert merged.returncode == 0 and "0 open dossier(s) handed over now" in merged.stdout


@pytest.mark.usefixtures("migrated")
def test_catalogue_import_generates_a_draft_per_record_publishes_the_clean_ones_and_reports_bad_rows(tmp_path):
    reference = Path(__file__).resolve().parent / "models" / "reference_procedures.json"
    records = json.loads(reference.read_text(encoding="utf-8"))[:4]
    bad = [dict(records[0]), dict(records[1], processing_unit="tuần"), dict(records[2], code=records[0]["code"])]
    del bad[0]["steps"]
    (tmp_path / "bad.json").write_text(json.dumps(bad, ensure_ascii=False), encoding="utf-8")
    refused = run("catalogue", "import", str(tmp_path / "bad.json"), home=tmp_path)
    assert refused.returncode == 1 and "nothing was imported" in refused.stderr and "Traceback" not in refused.stderr
    lines = refused.stderr.splitlines()[1:]
    assert lines[0].startswith("  row 1 (1.001193), column steps: the column 'steps' is missing")
    assert lines[1].startswith("  row 2 (1.000894), column processing_unit: the time limit's unit 'tuần'")
    assert lines[2].startswith("  row 3 (1.001193), column code: code 1.001193 is already the code of row 1")
    (tmp_path / "good.json").write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    first = run("catalogue", "import", str(tmp_path / "good.json"), "--publish", home=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "4 record(s): 4 created, 0 updated, 0 unchanged" in first.stdout  # the bad file left nothing behind
    assert "tests 3 passed, 0 failed" in first.stdout and "4 draft(s) published" in first.stdout
    again = run("catalogue", "import", str(tmp_path / "good.json"), "--no-tests", home=tmp_path)
    assert "4 record(s): 4 created" in again.stdout  # beside the published versions, never over them
    missing = run("catalogue", "import", str(tmp_path / "none.json"), home=tmp_path)
    assert missing.returncode == 1 and missing.stderr.startswith("error:")


def test_the_built_package_carries_the_bundled_procedures_so_a_pip_install_serves_them(tmp_path):
    import shutil

    from onestop import cli

    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for name in ("platform", "admin", "forms", "process_models"):
        shutil.copytree(ROOT / name, source / name, symlinks=True,
                        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "vendor"))
    done = subprocess.run([sys.executable, "-c", "from setuptools import setup; setup()", "-q", "build_py", "-d",
                           str(tmp_path / "built")], cwd=source, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    shipped = tmp_path / "built" / "onestop" / "process_models"
    assert not shipped.is_symlink()
    bundled = sorted(p.name for p in cli.BUNDLED.iterdir() if p.is_dir())
    assert len(bundled) >= 17 and sorted(p.name for p in shipped.iterdir() if p.is_dir()) == bundled
    assert (shipped / "copy_certification" / "procedure.json").read_bytes() == (
        cli.BUNDLED / "copy_certification" / "procedure.json").read_bytes()


def test_validate_shows_a_ui_key_onestop_does_not_know_as_a_warning_and_a_kkv_data_store_as_a_refusal(tmp_path):
    spiff = run("validate", str(MODELS / "forms" / "spiffarena_dynamic"), home=tmp_path)
    assert spiff.returncode == 0, spiff.stderr
    assert "warning Task_Pick:" in spiff.stdout and "ui:autoFocus" in spiff.stdout
    kkv = tmp_path / "kkv.bpmn"
    kkv.write_text((MODELS / "datastores" / "fee_lookup.bpmn").read_text().replace(
        'id="fees" name="JSONDataStore"', 'id="fees" name="KKVDataStore"'))
    refused = run("validate", str(kkv), home=tmp_path)
    assert refused.returncode == 1 and "fees: data store 'fees' (KKVDataStore) cannot run in onestop" in refused.stderr
    assert "Traceback" not in refused.stderr


@pytest.mark.usefixtures("migrated")
def test_dossiers_import_takes_an_old_systems_open_dossiers_whole_or_not_at_all_and_once(tmp_path):
    import shutil
    from datetime import date, timedelta

    folder = tmp_path / "review"
    folder.mkdir()
    for name in ("review.bpmn", "receive-schema.json"):
        shutil.copy(MODELS / name, folder / name)
    assert run("import", str(folder), home=tmp_path).returncode == 0
    received, due = (f"{date.today() + timedelta(days=d):%d/%m/%Y}" for d in (-10, 5))
    header = "Mã hồ sơ,Mã thủ tục,Người nộp,Ngày tiếp nhận,Ngày hẹn trả,Bước hiện tại\n"
    good = tmp_path / "open.csv"
    good.write_text(header + f"H15.50.05.13-261120-0001,review,Nguyễn An,{received},{due},Phê duyệt\n"
                             f"CU-77,review,Trần Bình,{received},{due},Task_Receive\n", encoding="utf-8")
    dry = run("dossiers", "import", str(good), "--dry-run", "--switch-over", "2026-12-01", home=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert "would import 2 dossier(s), 0 already imported, 1 code(s) flagged; switch-over 2026-12-01" in dry.stdout
    assert "line 3: code CU-77 kept as given" in dry.stderr
    done = run("dossiers", "import", str(good), "--switch-over", "2026-12-01", home=tmp_path)
    assert done.returncode == 0 and "imported 2 dossier(s)" in done.stdout
    assert "review               Task_Approve                   1" in done.stdout
    again = run("dossiers", "import", str(good), home=tmp_path)
    assert "imported 0 dossier(s), 2 already imported" in again.stdout
    bad = tmp_path / "bad.csv"
    bad.write_text(header + f"NEW-1,review,Lê Cường,{received},{due},Phê duyệt\n"
                            f"NEW-2,review,Lê Cường,{due},{received},Phê duyệt\n", encoding="utf-8")
    refused = run("dossiers", "import", str(bad), home=tmp_path)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert refused.stderr.splitlines()[1:] == [
        f"  line 3: ngày tiếp nhận {due} sau ngày hôm nay / the received date {due} is after today",
        f"  line 3: ngày hẹn trả {received} trước ngày tiếp nhận / the due date {received} is before the received date"]
    for wrong in (("dossiers", "import", str(tmp_path / "none.csv")),
                  ("dossiers", "import", str(good), "--switch-over", "mai"),
                  ("dossiers", "import", str(good), "--centre", "NOPE")):
        failed = run(*wrong, home=tmp_path)
        assert failed.returncode == 1 and failed.stderr.startswith("error:") and "Traceback" not in failed.stderr


@pytest.mark.usefixtures("migrated")
def test_keys_create_makes_a_local_root_and_the_centres_certificate_once_and_keeps_them(tmp_path):
    from cryptography import x509

    first = run("keys", "create", home=tmp_path)
    assert first.returncode == 0, first.stderr
    folder = tmp_path / "signing" / "centres" / "default"
    key, chain = folder / "key.pem", folder / "cert.pem"
    assert key.stat().st_mode & 0o777 == 0o600 and (tmp_path / "signing" / "root.key").stat().st_mode & 0o777 == 0o600
    leaf, root = x509.load_pem_x509_certificates(chain.read_bytes())
    leaf.verify_directly_issued_by(x509.load_pem_x509_certificate((tmp_path / "signing" / "root.pem").read_bytes()))
    assert root.subject == leaf.issuer
    usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.content_commitment and not usage.key_cert_sign
    before = key.read_bytes()
    again = run("keys", "create", home=tmp_path)
    assert again.returncode == 0 and "kept" in again.stdout and key.read_bytes() == before
    replaced = run("keys", "create", "--replace", home=tmp_path)
    assert replaced.returncode == 0 and key.read_bytes() != before


@pytest.mark.usefixtures("migrated")
def test_keys_create_for_a_centre_that_does_not_exist_says_so_in_a_line(tmp_path):
    unknown = run("keys", "create", "--centre", "KHONG-CO", home=tmp_path)
    assert unknown.returncode == 1 and "no centre" in unknown.stderr and "Traceback" not in unknown.stderr


@pytest.mark.parametrize("server", ["granian", "gunicorn"])
def test_serve_serves_the_same_app_under_either_web_server_submissions_and_steps_included(tmp_path, server):
    import requests

    from tests.support.servers import admin_token, onestop_serve

    with onestop_serve(tmp_path, executable=True, ONESTOP_WEB_SERVER=server, ONESTOP_WEB_WORKERS="1", ONESTOP_DATABASE_URL="",
                       ONESTOP_TIMER_THREAD="0") as (base, home, _env, log):
        auth = {"Authorization": f"Bearer {admin_token(home)}"}
        health = requests.get(f"{base}/healthz", timeout=60)
        assert health.status_code == 200 and health.headers["server"] == server
        files = [("files", (name, (MODELS / name).read_bytes())) for name in ("review.bpmn", "receive-schema.json")]
        assert requests.post(f"{base}/api/v1/procedures", files=files, headers=auth, timeout=60).status_code == 201
        started = requests.post(f"{base}/api/v1/dossiers", json={"procedure": "review"}, headers=auth, timeout=60)
        assert started.status_code == 201 and started.json()["tasks"][0]["element_id"] == "Task_Receive"
        step = requests.post(f"{base}/api/v1/tasks/{started.json()['tasks'][0]['id']}/complete", headers=auth,
                             json={"data": {"applicant_name": "Nguyễn Văn A", "documents_complete": True}}, timeout=60)
        assert step.status_code == 200 and step.json()["tasks"][0]["element_id"] == "Task_Approve"
        assert "Traceback" not in log.read_text(errors="replace")


def _children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _serve_process() -> int:
    """The `onestop serve` this test started (a child of the test's process): granian's master."""
    return next(pid for pid in _children(os.getpid())
                if Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").split(b"\0")[-2:] == [bytes(ONESTOP), b"serve"])


def test_serve_runs_granian_by_default_and_replaces_a_worker_that_is_killed(tmp_path):
    import signal
    import time

    import requests

    from tests.support.servers import onestop_serve

    with onestop_serve(tmp_path, executable=True, ONESTOP_WEB_SERVER="", ONESTOP_WEB_WORKERS="1", ONESTOP_DATABASE_URL="",
                       ONESTOP_TIMER_THREAD="0") as (base, _home, _env, log):
        assert requests.get(f"{base}/healthz", timeout=60).headers["server"] == "granian"
        master = _serve_process()
        serving = _children(master)
        assert len(serving) == 1
        os.kill(serving[0], signal.SIGKILL)
        deadline, answered = time.monotonic() + 60, None
        while time.monotonic() < deadline:
            try:
                answered = requests.get(f"{base}/healthz", timeout=5)
                if answered.status_code == 200 and _children(master) != serving:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.1)
        assert answered is not None and answered.status_code == 200, log.read_text(errors="replace")[-2000:]
        assert _children(master) not in ([], serving)


def test_serve_with_an_unknown_web_server_says_which_ones_there_are(tmp_path, monkeypatch):
    monkeypatch.setenv("ONESTOP_WEB_SERVER", "uwsgi")
    refused = run("serve", home=tmp_path)
    assert refused.returncode == 2 and "granian, gunicorn" in refused.stderr and "uwsgi" in refused.stderr
    assert "Traceback" not in refused.stderr


@pytest.mark.parametrize(("variable", "value"), [("ONESTOP_WEB_THREADS", "lots"), ("ONESTOP_WEB_THREADS", "0"),
                                                 ("ONESTOP_WEB_WORKERS", "-2"), ("ONESTOP_WEB_WORKERS", "2.5")])
def test_serve_with_a_thread_or_worker_count_that_is_not_one_says_so_in_a_line_before_starting(
        tmp_path, monkeypatch, variable, value):
    monkeypatch.setenv("ONESTOP_WEB_SERVER", "granian")
    monkeypatch.setenv(variable, value)
    refused = run("serve", home=tmp_path)
    assert refused.returncode == 2 and f"{variable} must be a whole number" in refused.stderr
    assert repr(value) in refused.stderr and "Traceback" not in refused.stderr
    assert refused.stdout == ""  # nothing started: no "onestop serving"


def test_a_database_url_of_no_kind_onestop_opens_is_named_in_a_line_without_its_password(tmp_path):
    refused = run("init", home=tmp_path, database_url="mysql://onestop:hunter2@db/onestop")
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert refused.stderr.strip() == ("error: ONESTOP_DATABASE_URL must be sqlite:///FILE or "
                                      "postgresql://USER:PASSWORD@HOST/DATABASE; its scheme is 'mysql'")


def test_a_database_that_cannot_be_reached_is_said_in_a_line_with_the_drivers_reason(tmp_path):
    # (port 1: nothing listens there, the connection is refused at once)
    failed = run("init", home=tmp_path, database_url="postgresql://onestop:hunter2@127.0.0.1:1/onestop")
    assert failed.returncode == 1 and "Traceback" not in failed.stderr and "hunter2" not in failed.stderr
    assert failed.stderr.startswith("error: the database could not be used: ")
    assert "Connection refused" in failed.stderr and len(failed.stderr.strip().splitlines()) == 1


def test_serve_on_a_port_another_server_holds_says_so_in_a_line_before_starting(tmp_path, monkeypatch):
    import socket

    with socket.socket() as other:  # another server, listening where onestop is told to
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        monkeypatch.setenv("ONESTOP_PORT", str(port))
        monkeypatch.setenv("ONESTOP_WEB_SERVER", "granian")
        refused = run("serve", home=tmp_path)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr and "panicked" not in refused.stderr
    assert refused.stderr.strip() == (f"error: cannot listen on 127.0.0.1:{port}: Address already in use (is another "
                                      "server there? ONESTOP_PORT or --port chooses another)")
    assert refused.stdout == ""  # said before the start-up's work: nothing served


@pytest.mark.parametrize("home", ["/proc/onestop-home", "/dev/null/onestop-home"])
def test_a_home_folder_that_cannot_be_made_is_named_in_a_line(home):
    refused = run("init", home=Path(home))
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert refused.stderr.startswith(f"error: ONESTOP_HOME {home} cannot be used: ")


@pytest.fixture
def bundle(sqlite_app, tmp_path):
    """A bundled-procedures folder of two procedures (copies), the system user, and a count of the
    models the engine is asked to compile."""
    import shutil

    from onestop.services import procedures
    from tests.process_models import BUNDLED

    root = tmp_path / "bundled"
    for name in ("copy_certification", "judicial_record"):
        shutil.copytree(BUNDLED / name, root / name)
    compiled = []
    compile_model = procedures.compile_model

    def counted(files, **kwargs):
        compiled.append(sorted(f.name for f in files))
        return compile_model(files, **kwargs)

    with sqlite_app.app_context():
        from onestop.services.users import system_user

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(procedures, "compile_model", counted)
            yield root, system_user(), compiled


def _versions():
    from onestop.models import Procedure

    return {p.code: p.latest_version for p in Procedure.select()}


def test_bundled_folders_loaded_again_unchanged_are_not_parsed_and_keep_their_version(bundle, capsys):
    from onestop import cli

    root, system, compiled = bundle
    assert cli.load_bundled(system, root) == 2 and len(compiled) == 2
    first = _versions()
    assert sorted(first.values()) == [1, 1] and capsys.readouterr().out.count("imported as") == 2
    assert cli.load_bundled(system, root) == 2
    assert len(compiled) == 2 and _versions() == first and capsys.readouterr().out == ""


def test_a_changed_bundled_folder_is_parsed_and_imported_as_a_new_version_and_a_broken_one_reported(bundle, capsys):
    from onestop import cli

    root, system, compiled = bundle
    cli.load_bundled(system, root)
    form = root / "judicial_record" / "receive-schema.json"
    form.write_text(json.dumps(json.loads(form.read_text()), indent=4))
    del compiled[:]
    assert cli.load_bundled(system, root) == 2
    assert [("receive-schema.json" in names) for names in compiled] == [True]
    versions = _versions()
    assert sorted(versions.values()) == [1, 2] and "imported as" in capsys.readouterr().out
    bpmn = next((root / "copy_certification").glob("*.bpmn"))
    bpmn.write_bytes(bpmn.read_bytes()[:-40])
    assert cli.load_bundled(system, root) == 1
    assert "copy_certification: the model was refused" in capsys.readouterr().err and _versions() == versions


def test_an_unchanged_bundled_folder_is_parsed_again_after_onestop_changed_or_another_version_was_uploaded(
        bundle, monkeypatch):
    """A newer onestop may refuse what an older one accepted; a procedure uploaded since is replaced by the
    bundled one again, as at every start before."""
    from onestop import cli
    from onestop.services import procedures

    root, system, compiled = bundle
    cli.load_bundled(system, root)
    first = _versions()
    monkeypatch.setattr(procedures, "_compiler", lambda: "another onestop")
    del compiled[:]
    assert cli.load_bundled(system, root) == 2 and len(compiled) == 2 and _versions() == first
    del compiled[:]
    assert cli.load_bundled(system, root) == 2 and compiled == []
    review = root.parent / "review"
    review.mkdir()
    (review / "procedure.json").write_text(json.dumps({"code": next(iter(first))}))
    for name in ("review.bpmn", "receive-schema.json"):
        (review / name).write_bytes((MODELS / name).read_bytes())
    assert cli._import(system, review)
    del compiled[:]
    assert cli.load_bundled(system, root) == 2 and len(compiled) == 1
    assert sorted(_versions().values()) == [1, 3]
