"""Centres from the national list of administrative units: created, listed, selected, scoped."""

import pytest

from onestop.models import Centre
from onestop.services import centres
from onestop.services.errors import Invalid, NotFound
from tests.conftest import make_user


def test_quang_ninh_is_created_with_its_54_communes_once(app):
    with app.app_context():
        system, _ = make_user("system", ("system_admin",))
        first = centres.import_units(system, [22])
        assert (first.provinces, first.communes) == (1, 54)
        province = Centre.get(Centre.code == "P22")
        assert province.level == "province" and province.name.endswith("Quảng Ninh")
        assert province.parent.code == centres.NATION
        communes = list(Centre.under(province.id))
        assert len(communes) == 54 and all(c.level == "commune" and c.code.startswith("W") for c in communes)
        again = centres.import_units(system, [22])
        assert (again.provinces, again.communes, again.existing) == (0, 0, 1)


def test_the_whole_country_is_34_provinces_and_3321_communes(sqlite_app):
    with sqlite_app.app_context():
        system, _ = make_user("system", ("system_admin",))
        report = centres.import_units(system)
        assert (report.provinces, report.communes) == (34, 3321)
        assert len(centres.select("nation")) == 34 + 3321
        with pytest.raises(Invalid, match="no province with code 99"):
            centres.import_units(system, [99])


def test_selectors_name_a_province_its_communes_or_a_list(sqlite_app):
    with sqlite_app.app_context():
        system, _ = make_user("system", ("system_admin",))
        centres.import_units(system, [22, 1])
        assert [c.code for c in centres.select("province:22")] == ["P22"]
        assert len(centres.select("province:22/*")) == 54
        some = centres.select("W07090, W07093")
        assert [c.code for c in some] == ["W07090", "W07093"]
        for bad, error in (("province:x", Invalid), ("province:44", NotFound), ("W99999", NotFound), ("", Invalid)):
            with pytest.raises(error):
                centres.select(bad)


def test_each_actor_lists_only_the_centres_of_its_scope(sqlite_app):
    with sqlite_app.app_context():
        system, _ = make_user("system", ("system_admin",))
        centres.import_units(system, [22, 1])
        province = Centre.get(Centre.code == "P22")
        commune = Centre.get(Centre.code == "W07090")
        province_admin, _ = make_user("qn.admin", ("province_admin",), centre=province)
        officer, _ = make_user("canbo", ("officer",), centre=commune)
        assert len(centres.list_centres(system)) == 1 + 2 + 54 + len(list(Centre.under(
            Centre.get(Centre.code == "P01").id))) + 1  # the nation, two provinces, communes, the default centre
        assert {c.code for c in centres.list_centres(province_admin)} == {"P22"} | {
            c.code for c in Centre.under(province.id)}
        assert [c.code for c in centres.list_centres(officer)] == ["W07090"]
        with pytest.raises(NotFound):
            centres.get_centre(officer, "W07093")
        with pytest.raises(NotFound):
            centres.get_centre(province_admin, "P01")


def test_a_centre_is_moved_under_another_parent_with_its_date(sqlite_app):
    from datetime import date

    with sqlite_app.app_context():
        system, _ = make_user("system", ("system_admin",))
        centres.import_units(system, [22])
        moved = centres.move(system, "W07093", "P22", date(2026, 1, 1))
        assert moved.parent.code == "P22"
        with pytest.raises(Invalid):
            centres.move(system, "P22", "W07093", date(2026, 1, 1))


def test_a_centre_gets_its_identity_code_from_its_own_admin_or_one_above(sqlite_app):
    from onestop.services import codes

    with sqlite_app.app_context():
        system, _ = make_user("system", ("system_admin",))
        centres.import_units(system, [22])
        commune = Centre.get(Centre.code == "W07090")
        own, _ = make_user("xa.admin", ("admin",), centre=commune)
        neighbour, _ = make_user("ben.admin", ("admin",), centre=Centre.get(Centre.code == "W07093"))
        updated = centres.update_centre(own, "W07090", {"agency_code": "000.10.05.H22", "address": "Số 1 Hà Tu"})
        assert updated.agency_code == "000.10.05.H22" and codes.agency_of(commune.id) == "000.10.05.H22"
        assert updated.agency_code_source.startswith("entered by xa.admin")
        with pytest.raises(NotFound):
            centres.update_centre(neighbour, "W07090", {"name": "x"})
        with pytest.raises(Invalid):
            centres.update_centre(own, "W07090", {"agency_code": "not a code!"})
        with pytest.raises(Invalid):
            centres.update_centre(own, "W07090", {"level": "province"})
