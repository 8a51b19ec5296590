"""What a process pays to start: a server makes the simulators, and their state, at their first request,
not at its start."""

import json


def test_a_server_makes_a_simulator_and_its_state_at_its_first_request_only(tmp_path, sqlite_url, engine):
    """Most servers that mount the simulators (the embedded default) never call them: each web process
    made all three at its start (~45 ms of CPU), and the master their state (~0.13 s on a first start)."""
    from tests.conftest import _close_pool, _make_app, _release

    app = _make_app(sqlite_url, tmp_path, engine, simulators=True)
    try:
        key = tmp_path / "home" / "simulators" / "identity" / "signing-key.json"
        assert not key.exists()
        client = app.test_client()
        jwks = client.get("/simulators/identity/jwks")
        assert jwks.status_code == 200
        assert [k["kid"] for k in jwks.get_json()["keys"]] == [json.loads(key.read_text())["kid"]]
        assert client.get("/simulators/identity/jwks").get_json() == jwks.get_json()  # the same app, made once
    finally:
        _close_pool()
        _release(app)
