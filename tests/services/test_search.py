"""Full-text search over the catalogue and dossiers by applicant (services/search.py), on SQLite FTS5 and
PostgreSQL full text alike: names, papers, results, fields, agencies and synonyms, diacritics ignored,
ranked, and kept up to date by the services that change what it holds."""

import json

import pytest

from onestop import sql
from onestop.models import Centre
from onestop.services import centres, dossiers, mergers, procedures, rollout, search
from onestop.services.errors import Invalid
from tests.conftest import make_user
from tests.process_models import bundled_files
from tests.services.test_rollout import pack_of


def _upload(actor, folder, **changes):
    """A bundled procedure uploaded at the actor's centre, its procedure.json changed by `changes`."""
    files = []
    for path in bundled_files(folder):
        content = path.read_bytes()
        if path.name == "procedure.json" and changes:
            content = json.dumps(json.loads(content) | changes, ensure_ascii=False).encode()
        files.append(procedures.Upload(path.name, content))
    return procedures.upload_procedure(actor, files)[0]


def _codes(actor, query, **filters):
    return [e.code for e in procedures.catalogue(actor, query, **filters)]


@pytest.fixture
def admin(app):
    with app.app_context():
        user, _ = make_user("admin1", ("admin", "officer"))
        yield user


def test_words_are_folded_with_d_and_cut_at_punctuation():
    assert search.words("Đăng ký ĐẤT ĐAI (mã 1.001193)") == ["dang", "ky", "dat", "dai", "ma", "1", "001193"]
    assert search.words("Nguyễn Thị Ánh Tuyết") == ["nguyen", "thi", "anh", "tuyet"]


def test_a_query_keeps_the_typed_words_as_prefixes_and_adds_the_phrases_of_their_synonyms():
    [group] = search.parse("CCCD").groups
    assert group[0] == (("cccd",), True) and (("can", "cuoc"), False) in group
    assert [g[0] for g in search.parse("giấy tờ").groups] == [(("giay",), True), (("to",), True)]
    assert not search.parse(" ?! ") and len(search.parse("a " * 40).groups) == search.MAX_WORDS
    [group] = search.parse("hộ tịch").groups
    assert group[0] == (("ho", "tich"), True) and (("civil", "status"), False) in group


def test_giay_khai_sinh_finds_birth_registration_by_its_papers(app, admin):
    with app.app_context():
        _upload(admin, "birth_registration")
        _upload(admin, "construction_permit_commune")
        assert _codes(admin, "giay khai sinh") == ["1.001193"]
        assert _codes(admin, "GIẤY CHỨNG SINH") == ["1.001193"]  # a paper's name, in capitals with diacritics
        assert _codes(admin, "mang thai ho") == ["1.001193"]  # deep in a paper's description
        assert _codes(admin, "dang ky khai sinh") == ["1.001193"]


def test_the_result_the_english_name_and_the_code_are_searched(app, admin):
    with app.app_context():
        _upload(admin, "birth_registration", result="Giấy khai sinh bản chính — mã kết quả KQ.G15.000031")
        _upload(admin, "judicial_record")
        assert _codes(admin, "KQ.G15.000031") == ["1.001193"]
        assert _codes(admin, "birth registration") == ["1.001193"]
        assert _codes(admin, "1.0011") == ["1.001193"]
        assert _codes(admin, "phiếu lý lịch") == ["3.000333"]


def test_common_synonyms_find_what_the_record_words_otherwise(app, admin):
    with app.app_context():
        _upload(admin, "birth_registration")
        _upload(admin, "copy_certification", documents=["Thẻ căn cước của người yêu cầu chứng thực — 1 bản chính"])
        assert set(_codes(admin, "CCCD")) == {"1.001193", "2.000815"}  # the second says only "căn cước"
        assert _codes(admin, "birth certificate") == ["1.001193"]  # "khai sinh"
        assert "2.000815" in _codes(admin, "certified copy")


def test_results_are_ranked_a_match_in_the_name_before_one_in_the_papers(app, admin):
    with app.app_context():
        for folder in ("marital_status_certificate", "marriage_registration", "birth_registration"):
            _upload(admin, folder)
        assert _codes(admin, "hôn nhân") == ["1.004873", "1.000894"]  # its name, then the other's papers
        assert _codes(admin, "kết hôn")[0] == "1.000894"


def test_the_field_and_level_filters_apply_to_what_a_search_finds(app, admin):
    with app.app_context():
        _upload(admin, "birth_registration")
        _upload(admin, "household_business_registration")
        assert set(_codes(admin, "cccd")) == {"1.001193", "1.001612"}
        assert _codes(admin, "cccd", field="CIVIL STATUS (ho tich)") == ["1.001193"]
        assert _codes(admin, "cccd", level="province") == []
        assert procedures.catalogue_fields(admin) == ["business registration (đăng ký kinh doanh)",
                                                      "civil status (hộ tịch)"]


def test_a_new_version_replaces_what_the_index_held(app, admin):
    with app.app_context():
        _upload(admin, "copy_certification")
        assert _codes(admin, "sao y") == []
        _upload(admin, "copy_certification", name="Chứng thực bản sao y từ bản chính")
        assert _codes(admin, "sao y") == ["2.000815"]
        assert sql.run('SELECT COUNT(*) FROM "procedure_search"').fetchone()[0] == 1


def test_a_refused_upload_leaves_the_index_as_it_was(app, admin):
    with app.app_context():
        _upload(admin, "copy_certification")
        with pytest.raises(Invalid):
            _upload(admin, "copy_certification", name="Bản sao mới", lanes="not a mapping")
        assert _codes(admin, "ban sao moi") == [] and _codes(admin, "chung thuc") == ["2.000815"]


def test_the_index_is_written_in_the_transaction_of_the_change_and_rolled_back_with_it(app, admin):
    from onestop.db import write_transaction

    with app.app_context():
        with pytest.raises(RuntimeError), write_transaction():
            _upload(admin, "birth_registration")
            assert _codes(admin, "khai sinh") == ["1.001193"]  # seen inside the transaction
            raise RuntimeError("the change fails after the upload")
        assert _codes(admin, "khai sinh") == []
        assert sql.run('SELECT COUNT(*) FROM "procedure_search"').fetchone()[0] == 0


def test_each_centre_searches_only_its_own_procedures(app, admin):
    with app.app_context():
        system, _ = make_user("system", ("system_admin",))
        centres.import_units(system, [22])
        other, _ = make_user("qn.admin", ("admin",), centre=Centre.get(Centre.code == "P22"))
        _upload(admin, "birth_registration")
        assert _codes(other, "khai sinh") == [] and _codes(admin, "khai sinh") == ["1.001193"]


@pytest.fixture
def province(app):
    with app.app_context():
        system, _ = make_user("system", ("system_admin",))
        centres.import_units(system, [22])
        yield make_user("qn.admin", ("province_admin", "admin"), centre=Centre.get(Centre.code == "P22"))[0]


def test_adopted_procedures_are_found_at_each_commune_with_its_own_agency_name(app, province):
    with app.app_context():
        rollout.rollout_pack(province, pack_of(), "province:22/*")
        commune, neighbour = (Centre.get(Centre.code == c) for c in ("W07090", "W07093"))
        commune_admin, _ = make_user("xa.admin", ("admin",), centre=commune)
        neighbour_admin, _ = make_user("xa2.admin", ("admin",), centre=neighbour)
        assert _codes(commune_admin, "chung thuc ban sao") == ["2.000815"]
        assert _codes(commune_admin, "đăng ký kết hôn") == ["1.000894"]
        rollout.set_override(commune_admin, "2.000815", {"agency": "UBND phường Bãi Cháy"})
        assert _codes(commune_admin, "bai chay") == ["2.000815"] and _codes(neighbour_admin, "bai chay") == []
        changed = pack_of(edit=lambda folder, name, content: content.replace(
            "Kiểm tra bản chính".encode(), "Kiểm tra bản chính, đối chiếu".encode()) if name == "receive-schema.json"
            else content)
        from tests.services.test_rollout import rehashed

        rollout.rollout_pack(province, rehashed(changed), "province:22/*")  # kept_override at W07090
        assert _codes(commune_admin, "bai chay") == ["2.000815"] and _codes(neighbour_admin, "chung thuc") == ["2.000815"]


def _start(actor, name, citizen_id):
    data = {"requester_full_name": name, "requester_citizen_id": citizen_id,
            "papers": [{"paper_name": "Bằng", "pages": 1, "copies": 1}]}
    return dossiers.start_dossier(actor, "2.000815", data, applicant={"name": name, "citizen_id": citizen_id})


def _found(text, centre_ids=None):
    from onestop.models import Dossier

    return sorted(d.code for d in Dossier.select(Dossier.code).where(search.applicant_filter(text, centre_ids)))


def test_dossiers_are_found_by_applicant_name_id_and_code_whatever_the_diacritics(app, admin):
    with app.app_context():
        _upload(admin, "copy_certification")
        an = _start(admin, "Nguyễn Văn An", "001234567890")
        dung = _start(admin, "Đặng Thị Dung", "079301000123")
        assert _found("nguyen van an") == [an.code]
        assert _found("NGUYỄN VĂN") == [an.code]
        assert _found("dang thi") == [dung.code]  # "Đ" folds to "d"
        assert _found("0012345") == [an.code]  # a citizen ID's first digits
        assert _found(dung.code) == [dung.code] and _found(dung.code.lower()) == [dung.code]
        assert _found("nguyen", centre_ids=[admin.centre_id + 1000]) == []
        assert search.applicant_filter("  ") is None


def test_a_dossier_handed_over_by_a_merger_is_found_at_its_new_centre(app, province):
    from onestop.models import local_today

    with app.app_context():
        rollout.rollout_pack(province, pack_of(), "W07090,W07093")
        merged, successor = (Centre.get(Centre.code == c) for c in ("W07090", "W07093"))
        officer, _ = make_user("canbo", ("officer",), centre=merged)
        dossier = _start(officer, "Lê Văn Tám", "022190054321")
        assert _found("le van tam", [merged.id]) == [dossier.code]
        system, _ = make_user("system2", ("system_admin",))
        mergers.merge_centres(system, "W07090", "W07093", local_today())  # today: handed over at once
        assert _found("le van tam", [successor.id]) == [dossier.code] and _found("le van tam", [merged.id]) == []


def test_rebuilding_makes_the_index_again_from_the_tables(app, admin):
    with app.app_context():
        _upload(admin, "copy_certification")
        dossier = _start(admin, "Phạm Quỳnh", "001099000111")
        sql.run('DELETE FROM "procedure_search"')
        sql.run('DELETE FROM "dossier_search"')
        assert _codes(admin, "chung thuc") == [] and _found("pham quynh") == []
        assert search.rebuild() == {"procedures": 1, "dossiers": 1}
        assert _codes(admin, "chung thuc") == ["2.000815"] and _found("pham quynh") == [dossier.code]


def test_the_new_dossiers_of_a_sqlite_batch_are_indexed_by_one_insert_before_its_commit(sqlite_app):
    # FTS5 writes a new segment of its index at the statement after an insert: inserted once for the batch's
    # units, just before its commit, the index gets one segment per commit instead of one per new dossier. A
    # unit that fails takes its row with it; a unit of its own writes its row at once.
    from onestop.db import write_transaction
    from tests.services.test_audit import one_sqlite_batch

    def put(n, fails=False):
        def work():
            search.put_dossier(n, 1, f"CODE-{n}", {"name": f"Nguyễn Văn {'ABCDE'[n - 1]}"}, new=True)
            sql.run('SELECT 1')  # a statement of the unit after it
            if fails:
                raise ValueError("refused")
        return work

    def found(word):
        return sorted(r for (r,) in sql.run('SELECT "rowid" FROM "dossier_search" WHERE "dossier_search" MATCH ?',
                                            (f"applicant:{word}",)))

    with sqlite_app.app_context():
        segments = 'SELECT count(*) FROM "dossier_search_data"'
        before = sql.run(segments).fetchone()[0]
        errors, statements = one_sqlite_batch([put(1), put(2, fails=True), put(3), put(4)])
        assert [type(e) for e in errors] == [type(None), ValueError, type(None), type(None)]
        assert len([s for s in statements if s.startswith('INSERT INTO "dossier_search"')]) == 1  # before: 4
        assert sql.run(segments).fetchone()[0] - before <= 2  # one segment (and its structure); before: 4 and more
        assert found("nguyen") == [1, 3, 4] and found("b") == []
        with write_transaction():
            put(5)()
        assert found("e") == [5]
