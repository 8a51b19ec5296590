"""Tests of the bundled procedures in process_models/: each is uploaded through the REST API and walked
through the real engine, task by task, by element id.

`upload_bundled` sends a folder's files as `onestop serve` would import them; `Walk` follows one dossier.
Each procedure's main walk uses `admin_api` (SQLite with the warm engine, PostgreSQL with the cold one,
which reloads the stored workflow at every step); its other walks (supplement loops, refusals, send-backs),
which exercise nothing database-specific, and checks that only touch form validation or a one-step path
use `sqlite_admin_api` to keep the run short. What is database-specific (due dates stored and shifted,
the supplement loop's clock) keeps a walk on both: test_birth_registration, test_land_change_registration,
test_due_dates, test_templates.
"""

from pathlib import Path

from tests.conftest import ROOT

BUNDLED = ROOT / "process_models"
MODEL_SUFFIXES = (".bpmn", ".dmn", ".json")


def bundled_folders():
    return sorted(p.name for p in BUNDLED.iterdir() if p.is_dir())


def bundled_files(folder) -> list[Path]:
    """The files of a bundled procedure folder, as the CLI's importer picks them."""
    return sorted(p for p in (BUNDLED / folder).iterdir() if p.is_file() and p.suffix.lower() in MODEL_SUFFIXES)


def upload_bundled(api, folder) -> dict:
    """Upload a bundled folder through POST /api/v1/procedures; returns the new version's JSON."""
    response = api.upload(bundled_files(folder))
    assert response.status_code == 201, response.json
    assert response.json["warnings"] == []
    return response.json


class Walk:
    """One dossier of a procedure, moved on by completing its offered tasks by element id."""

    def __init__(self, api, procedure, applicant=None, data=None):
        self.api = api
        body = {"procedure": procedure}
        if applicant is not None:
            body["applicant"] = applicant
        if data is not None:
            body["data"] = data
        response = api.post("/dossiers", body)
        assert response.status_code == 201, response.json
        self.dossier = response.json  # the lean answer: read the whole dossier beside it
        self.refresh()
        self.dossier |= response.json

    @property
    def code(self):
        return self.dossier["code"]

    @property
    def state(self):
        return self.dossier["state"]

    @property
    def data(self):
        return self.dossier["data"]

    def refresh(self) -> "Walk":
        """Reload the dossier (GET /dossiers/<code>)."""
        response = self.api.get(f"/dossiers/{self.code}")
        assert response.status_code == 200, response.json
        self.dossier = response.json
        return self

    def offered(self) -> dict:
        """{element id: lane} of the tasks waiting for a person."""
        return {t["element_id"]: t["lane"] for t in self.dossier["tasks"]}

    def task(self, element_id) -> dict:
        matching = [t for t in self.dossier["tasks"] if t["element_id"] == element_id]
        assert len(matching) == 1, f"{element_id} is not offered; offered: {self.offered()}"
        return matching[0]

    def detail(self, element_id) -> dict:
        """GET /tasks/<id>: the task with the variables it sees and its form."""
        response = self.api.get(f"/tasks/{self.task(element_id)['id']}")
        assert response.status_code == 200, response.json
        return response.json

    def attempt(self, element_id, data):
        """POST the task's completion and return the raw response (the dossier is not updated)."""
        return self.api.post(f"/tasks/{self.task(element_id)['id']}/complete", {"data": data})

    def complete(self, element_id, data) -> "Walk":
        response = self.attempt(element_id, data)
        assert response.status_code == 200, response.json
        assert response.json["state"] != "error", response.json.get("error")
        return self.refresh()  # the step's answer is lean: the whole dossier is read (GET)

    def supplement(self, reason, note="Đã nộp bổ sung") -> dict:
        """Ask for a supplement (the offered tasks are then refused), record its arrival; returns the
        dossier as the supplement's answer gave it (with the resumed clock) and reloads the walk."""
        asked = self.api.post(f"/dossiers/{self.code}/supplement-request", {"reason": reason})
        assert asked.status_code == 200 and asked.json["status"] == "supplement_requested", asked.json
        for element_id in self.offered():
            assert self.attempt(element_id, {}).status_code == 409
        resumed = self.api.post(f"/dossiers/{self.code}/supplement", {"note": note})
        assert resumed.status_code == 200 and resumed.json["status"] == "processing", resumed.json
        self.refresh()
        return resumed.json

    def refused_fields(self, element_id, data) -> set:
        """Complete with bad data: expect 422 and return the fields the answer names."""
        response = self.attempt(element_id, data)
        assert response.status_code == 422, response.json
        assert response.json["error"] == "invalid"
        return {d["field"] for d in response.json["details"]}

    def history(self, state="completed") -> list:
        """Element ids the dossier went through, in order (state=None: cancelled engine tasks too, such as
        the waiting thread of a parallel join that another branch completed)."""
        return [h["element_id"] for h in self.dossier["history"] if state is None or h["state"] == state]

    def count(self, element_id) -> int:
        return self.history().count(element_id)

    def ended_at(self) -> list:
        """The end events reached."""
        return [e for e in self.history() if e.startswith("End_")]


class TemplateProcedure:
    """A bundled procedure built from a template of procedure_templates/ (receive, appraise, sign, return,
    and the model's own supplement loop), with the lanes its record names: the walks its tests share."""

    def __init__(self, folder, code, one_stop, specialist, leader, application, received):
        self.folder, self.code = folder, code
        self.one_stop, self.specialist, self.leader = one_stop, specialist, leader
        self.application, self.received = application, received

    def start(self, api) -> Walk:
        upload_bundled(api, self.folder)
        walk = Walk(api, self.code, data=self.application)
        assert walk.offered() == {"Task_Receive": self.one_stop}
        return walk

    def received_and_appraised(self, walk, appraisal, middle=None) -> Walk:
        """Reception, then the appraisal (and `middle(walk)`, the template's own steps between the
        appraisal and the signature), up to the leader's signature."""
        walk.complete("Task_Receive", self.received)
        assert walk.offered() == {"Task_Appraise": self.specialist}
        walk.complete("Task_Appraise", appraisal)
        if middle is not None:
            middle(walk)
        assert walk.offered() == {"Task_Sign": self.leader}
        return walk

    def signed_and_returned(self, walk, signed, returned) -> Walk:
        walk.complete("Task_Sign", signed)
        assert walk.offered() == {"Task_Return": self.one_stop} and walk.dossier["status"] == "resolved"
        walk.complete("Task_Return", returned)
        assert walk.state == "completed" and walk.dossier["status"] == "returned"
        assert walk.ended_at() == ["End_Done"]
        return walk

    def supplement_asked(self, walk, request) -> Walk:
        """The appraisal finds the dossier short: the model's supplement step is offered at the desk and the
        dossier's clock stops as the platform's supplement action stops it."""
        walk.complete("Task_Receive", self.received)
        walk.complete("Task_Appraise", {"appraisal_result": "supplement", "appraisal_note": request})
        assert walk.offered() == {"Task_Supplement": self.one_stop}
        assert walk.dossier["status"] == "supplement_requested"
        assert walk.task("Task_Supplement")["due_at"] is None  # the citizen's time is not the officials'
        assert walk.api.post(f"/dossiers/{walk.code}/supplement-request", {"reason": "x"}).status_code == 409
        return walk

    def supplement_received(self, walk, documents) -> Walk:
        walk.complete("Task_Supplement", {"supplement_received": True, "supplemented_documents": documents})
        assert walk.dossier["status"] == "processing"
        assert walk.offered() == {"Task_Receive": self.one_stop}  # reception starts over with the papers
        return walk

    def issued(self, api, signed, returned, middle=None) -> Walk:
        """The happy path: received, appraised (and `middle`), signed, returned."""
        walk = self.start(api)
        self.received_and_appraised(walk, {"appraisal_result": "approve"}, middle)
        return self.signed_and_returned(walk, signed, returned)

    def limit(self, api) -> dict:
        """The legal limit as the stored procedure states it: {unit: amount}."""
        deadline = api.get(f"/procedures/{self.code}").json["metadata"]["deadline"]
        return {k: v for k, v in deadline.items() if k in ("working_days", "calendar_days")}

    def issued_after_a_supplement(self, api, asked, supplied, signed, returned, middle=None) -> Walk:
        """A paper missing: the clock stops, the paper comes, reception starts over, then the happy path."""
        walk = self.start(api)
        self.supplement_asked(walk, asked)
        self.supplement_received(walk, supplied)
        self.received_and_appraised(walk, {"appraisal_result": "approve"}, middle)
        self.signed_and_returned(walk, signed, returned)
        assert walk.count("Task_Receive") == 2 and walk.count("Task_Supplement") == 1
        return walk

    def refused(self, api) -> Walk:
        """The appraisal finds the conditions unmet: the one-stop desk notifies the refusal in writing."""
        walk = self.start(api)
        walk.complete("Task_Receive", self.received)
        walk.complete("Task_Appraise", {"appraisal_result": "refuse", "appraisal_note": "Không đủ điều kiện"})
        assert walk.offered() == {"Task_NotifyRefusal": self.one_stop}
        walk.complete("Task_NotifyRefusal", {"refusal_reason": "Không đủ điều kiện theo quy định",
                                             "notified_on": "2026-03-06"})
        assert walk.state == "completed" and walk.ended_at() == ["End_Refused"]
        return walk
