"""SpiffArena data stores through the API: a kind that cannot run is refused naming the store, and a
dossier whose centre lacks the table is held up with an incident in plain words, never a 5xx."""

from tests.conftest import MODELS

FEE_LOOKUP = MODELS / "datastores" / "fee_lookup.bpmn"


def test_a_kkv_data_store_is_refused_at_upload_naming_the_store_and_what_to_use(sqlite_admin_api):
    bpmn = FEE_LOOKUP.read_text().replace('id="fees" name="JSONDataStore"', 'id="fees" name="KKVDataStore"')
    reply = sqlite_admin_api.upload([("fee_lookup.bpmn", bpmn.encode())])
    assert reply.status_code == 422
    [detail] = reply.json["details"]
    assert detail["element_id"] == "fees" and "JSONDataStore" in detail["message"]
    assert "Traceback" not in str(reply.json) and "Exception" not in str(reply.json)


def test_a_dossier_whose_centre_lacks_the_table_is_held_up_naming_it(sqlite_admin_api):
    assert sqlite_admin_api.upload([FEE_LOOKUP]).status_code == 201
    started = sqlite_admin_api.post("/dossiers", {"procedure": "fee_lookup", "data": {"kind": "new"}})
    assert started.status_code == 201
    assert started.json["state"] == "error"
    assert started.json["error"]["element_id"] == "Script_Fee"
    assert "lookup table 'fees'" in started.json["error"]["message"]
