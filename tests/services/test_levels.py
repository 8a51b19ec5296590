"""A procedure's level decides which centres adopt it in a rollout: a nationwide rollout puts
province-level procedures in the provinces' catalogues only, commune-level ones in the communes',
and one both levels perform in both."""

import json

import pytest

from onestop.models import Centre, Procedure
from onestop.services import centres, levels, rollout
from tests.conftest import make_user
from tests.services.test_rollout import pack_of, rehashed

FOLDERS = ("construction_permit_commune", "construction_permit_province", "copy_certification")


def _both_levels(folder, name, content):
    """copy_certification performed by both levels, as a record's "commune + province" says."""
    if folder == "copy_certification" and name == "procedure.json":
        record = json.loads(content)
        return json.dumps(record | {"level": ["province", "commune"]}, ensure_ascii=False).encode()
    return content


@pytest.mark.parametrize("metadata, centre_level, adopted", [
    ({"level": "province"}, "commune", False), ({"level": "province"}, "province", True),
    ({"level": "commune"}, "province", False), ({"level": ["province", "commune"]}, "commune", True),
    ({"level": "district"}, "commune", False), ({}, "commune", True), ({"level": "centre"}, "province", True),
    ({"level": "commune"}, "centre", True), ({"level": "commune + province (liên thông)"}, "province", True)])
def test_a_centre_adopts_the_procedures_of_its_own_level(metadata, centre_level, adopted):
    assert levels.adopts(centre_level, metadata) is adopted


def test_a_nationwide_rollout_keeps_province_level_procedures_out_of_commune_catalogues(app):
    with app.app_context():
        system, _ = make_user("system", ("system_admin",))
        centres.import_units(system, [22])
        report = rollout.rollout_pack(system, rehashed(pack_of(FOLDERS, edit=_both_levels)), "nation")
        at = {}
        for o in report.outcomes:
            at.setdefault(o.centre, {})[o.code] = o.outcome
        assert at["P22"] == {"1.013225": "other_level", "1.013236": "adopted", "2.000815": "adopted"}
        assert at["W07090"] == {"1.013225": "adopted", "1.013236": "other_level", "2.000815": "adopted"}
        assert report.counts() == {"adopted": 2 + 54 * 2, "other_level": 1 + 54}
        commune = Centre.get(Centre.code == "W07090")
        assert sorted(p.code for p in Procedure.select().where(Procedure.centre == commune.id)) == [
            "1.013225", "2.000815"]
        left = next(o for o in report.outcomes if o.centre == "W07090" and o.outcome == "other_level")
        assert "province level" in left.detail


def test_the_coverage_of_a_province_level_procedure_counts_the_provinces_own_centres_not_their_communes(app):
    with app.app_context():
        system, _ = make_user("system", ("system_admin",))
        centres.import_units(system, [22, 1])
        rollout.rollout_pack(system, rehashed(pack_of(FOLDERS, edit=_both_levels)), "province:22/*")
        rollout.rollout_pack(system, rehashed(pack_of(FOLDERS, edit=_both_levels)), "P22")
        rows = {r["province"]: r for r in rollout.coverage(system, "1.013236")}  # province level
        assert (rows["P22"]["communes"], rows["P22"]["missing"], rows["P22"]["province_centre"]) == (0, 0, "current")
        assert rows["P01"]["province_centre"] == "missing"
        commune_level = {r["province"]: r for r in rollout.coverage(system, "1.013225")}
        assert (commune_level["P22"]["communes"], commune_level["P22"]["current"]) == (54, 54)
        assert commune_level["P22"]["province_centre"] == "missing"
