"""The identity provider's simulator (onestop.simulators.identity): one key per provider, however
many processes of a server start it at once. Its sign-in flow is tested with the service that uses it
(tests/services/test_identity.py)."""

import json
import threading
from concurrent.futures import ThreadPoolExecutor

from joserfc.jwk import RSAKey

from onestop import simulators
from onestop.simulators import identity


def _served_kids(app) -> set[str]:
    return {key["kid"] for key in app.test_client().get("/jwks").get_json()["keys"]}


def test_processes_starting_the_provider_at_once_all_sign_with_the_one_key_kept_on_disk(tmp_path, monkeypatch):
    """Each web process of `onestop serve` mounts the provider: on a first start two of them generated a
    key each, and the one whose key was replaced on disk served a JWKS no other process signed with."""
    generate = RSAKey.generate_key
    both_generating = threading.Barrier(2, timeout=30)

    def generate_together(*args, **kwargs):
        key = generate(*args, **kwargs)
        both_generating.wait()  # neither has written its key yet: the race of two processes starting
        return key

    monkeypatch.setattr(RSAKey, "generate_key", generate_together)
    home = tmp_path / "identity"
    with ThreadPoolExecutor(2) as pool:
        apps = list(pool.map(lambda _: identity.create_app(home), range(2)))
    kept = json.loads((home / "signing-key.json").read_text())["kid"]
    assert [_served_kids(app) for app in apps] == [{kept}, {kept}]
    assert sorted(p.name for p in home.iterdir()) == ["citizens.json", "clients.json", "signing-key.json"]


def test_the_state_a_provider_made_is_what_the_next_one_serves_and_its_key_is_the_owners_alone(tmp_path, monkeypatch):
    home = tmp_path / "identity"
    kept = _served_kids(simulators.create("identity", home))
    monkeypatch.setattr(RSAKey, "generate_key", None)  # nothing left to generate
    assert _served_kids(simulators.create("identity", home)) == kept
    assert (home / "signing-key.json").stat().st_mode & 0o777 == 0o600


def test_a_key_made_on_first_use_is_served_as_kept_without_being_read_back(tmp_path, monkeypatch):
    """Reading an RSA key checks it (~37 ms of CPU, as much as making it): the process that made the key
    kept on disk uses the one it holds, and signs and serves exactly what a later start reads."""
    home = tmp_path / "identity"
    home.mkdir()

    def not_read_back(*_args, **_kwargs):
        raise AssertionError("the key just made and kept was read back")

    monkeypatch.setattr(RSAKey, "import_key", not_read_back)
    made = identity.signing_key(home)
    monkeypatch.undo()
    read = identity.signing_key(home)
    assert made.as_dict(private=True) == read.as_dict(private=True) == json.loads((home / "signing-key.json").read_text())
    assert made.as_dict(private=False) == read.as_dict(private=False)
