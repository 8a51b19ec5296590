"""Agencies' identity codes: imported from the national list, checked, shown as missing, and the
start of every dossier code, unique under concurrent intake at every centre."""

import re
import threading

import pytest

from onestop.models import AuditEvent, Centre
from onestop.services import agencies, centres, codes, dossiers, procedures
from onestop.services.errors import Invalid
from tests.conftest import MODELS, make_user

CODES_CSV = "ma_dvhc,ma_dinh_danh\n22,000.00.00.H22\n07090,000.21.05.H22\n7093,H22.50.05.13\n"


def _upload_review(actor):
    procedures.upload_procedure(actor, [procedures.Upload(p.name, p.read_bytes())
                                        for p in (MODELS / "review.bpmn", MODELS / "receive-schema.json")])


def test_a_dossier_received_at_a_centre_whose_code_was_imported_carries_its_real_agency_code(app):
    with app.app_context():
        system, _ = make_user("system", ("system_admin",))
        centres.import_units(system, [22])
        report = agencies.import_codes(system, CODES_CSV, "danh-muc-ma-dinh-danh.csv")
        assert (report.changed, report.unchanged) == (3, 0)
        officer, _ = make_user("canbo", ("officer", "admin"), centre=Centre.get(Centre.code == "W07090"))
        _upload_review(officer)
        dossier = dossiers.start_dossier(officer, "review")
        assert re.fullmatch(r"000\.21\.05\.H22-\d{6}-0001", dossier.code), dossier.code
        commune = Centre.get(Centre.code == "W07090")
        assert commune.agency_code_source.startswith("national list danh-muc-ma-dinh-danh.csv")
        assert Centre.get(Centre.code == "W07093").agency_code == "H22.50.05.13"  # "7093": a spreadsheet ate the 0
        assert AuditEvent.select().where(AuditEvent.action == "centres.codes_imported").count() == 1
        again = agencies.import_codes(system, CODES_CSV, "danh-muc-ma-dinh-danh.csv")
        assert (again.changed, again.unchanged) == (0, 3)


def test_a_codes_file_with_wrong_rows_is_reported_row_by_row_and_changes_nothing(sqlite_app):
    wrong = ("22;000.00.00.H22\n"
             "99999;000.21.07.H22\n"  # no such unit
             "07090;H22-21\n"  # not the national shape
             "07090;000.21.09.H22\n"  # the same unit again
             "07093;000.00.00.H22\n"  # the code row 1 gives already
             "abc;000.21.08.H22\n"
             "07081\n")
    with sqlite_app.app_context():
        system, _ = make_user("system", ("system_admin",))
        centres.import_units(system, [22])
        with pytest.raises(Invalid, match="nothing was changed") as refused:
            agencies.import_codes(system, wrong, "wrong.csv")
        rows = [p["row"] for p in refused.value.details]
        assert rows == [2, 3, 4, 5, 6, 7], refused.value.details
        assert Centre.select().where(Centre.agency_code.is_null(False)).count() == 0
        with pytest.raises(Invalid, match="no rows"):
            agencies.import_codes(system, "\n\n", "empty.csv")
        agencies.import_codes(system, "07090,000.21.05.H22\n", "first.csv")
        with pytest.raises(Invalid, match="already the code of W07090"):
            agencies.import_codes(system, "07093,000.21.05.H22\n", "second.csv")


@pytest.mark.parametrize("code, valid", [("000.00.21.H56", True), ("H15.50.05.13", True), ("H15.500.05", True),
                                         ("000.00.00.G01", True), ("H15.50.05", False), ("000.00.21.56", False),
                                         ("h15.50.05.13", False), ("000.00.21.H56 ", False), ("H15." + "9" * 36, False)])
def test_an_identity_code_must_have_a_shape_of_the_national_list(code, valid):
    assert codes.valid_agency_code(code) is valid


def test_centres_without_an_identity_code_are_not_ready_in_the_api_and_the_list(app):
    with app.app_context():
        system, token = make_user("system", ("system_admin",))
        centres.import_units(system, [22])
        agencies.import_codes(system, "07090,000.21.05.H22\n", "codes.csv")
        assert agencies.count_not_ready() == 1 + 54 + 1  # P22, its other 53 communes, the default centre
        assert "W07090" not in [c.code for c in agencies.not_ready()]
    listed = app.test_client().get("/api/v1/centres?parent=P22", headers={"Authorization": f"Bearer {token}"}).json
    ready = {c["code"]: c["ready"] for c in listed["centres"]}
    assert ready["W07090"] is True and ready["W07093"] is False
    source = next(c["agency_code_source"] for c in listed["centres"] if c["code"] == "W07090")
    assert source.startswith("national list codes.csv")


def test_simultaneous_intakes_at_several_centres_get_unique_codes_each_agency_counting_without_gaps(app):
    """Sixteen intakes at once at each of three centres: two with imported codes, one without (whose
    dossiers share the placeholder agency's counter): every code is distinct and each agency's
    numbers run 1..n without a gap."""
    with app.app_context():
        system, _ = make_user("system", ("system_admin",))
        centres.import_units(system, [22])
        agencies.import_codes(system, "07090,000.21.05.H22\n07093,H22.50.05.13\n", "codes.csv")
        tokens = []
        for code in ("W07090", "W07093", "W07081"):
            admin, token = make_user(f"admin.{code}", ("admin",), centre=Centre.get(Centre.code == code))
            _upload_review(admin)
            tokens.append(token)
    per_centre = 16
    barrier = threading.Barrier(per_centre * len(tokens))
    results = []

    def intake(token):
        client = app.test_client()
        barrier.wait()
        response = client.post("/api/v1/dossiers", json={"procedure": "review"},
                               headers={"Authorization": f"Bearer {token}"})
        results.append((response.status_code, (response.get_json() or {}).get("code")))

    threads = [threading.Thread(target=intake, args=(t,)) for t in tokens for _ in range(per_centre)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sorted(status for status, _ in results) == [201] * len(threads), results
    found = [code.rsplit("-", 2) for _, code in results]
    assert len({tuple(f) for f in found}) == len(threads)  # unique
    by_agency = {}
    for agency, _day, number in found:
        by_agency.setdefault(agency, []).append(int(number))
    assert set(by_agency) == {"000.21.05.H22", "H22.50.05.13", codes.DEFAULT_AGENCY}
    assert all(sorted(n) == list(range(1, per_centre + 1)) for n in by_agency.values()), by_agency
