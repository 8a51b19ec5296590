"""Citizens' electronic identity (VNeID-style OpenID Connect) and "enter once, use many times".

The adapter: the authorization code flow with PKCE (S256) through Authlib's OAuth 2.0 client, the
provider found by its discovery document, the ID token's RS256 signature checked against the
provider's JWKS and its issuer, audience, expiry and nonce checked (joserfc, Authlib's JOSE
library). The state is checked before any code is exchanged. Whatever goes wrong ends as
SignInRefused (a clear message, nothing signed in); a provider that cannot be reached as
ProviderUnavailable (503).

Enter once: the applicant block of a form is filled from the identity's claims; the claims the
population register vouches for (citizen ID number, full name, date of birth, gender) are
authoritative: whatever a submission says, the dossier gets the claim's value. Dossiers submitted
signed in are linked to the citizen ID ("my dossiers", across centres), the files they upload are
kept in the citizen's store of the province (models.CitizenDocument, as services.papers keeps the
counter's scans), and a document of that store can be attached to a new dossier instead of being
uploaded again.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import asdict, dataclass, field

import requests
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jwt import JWTClaimsRegistry

from .. import sql
from ..models import Centre, CitizenDocument, CitizenDossier, Dossier, Procedure, ProcedureVersion, utcnow
from . import attachments, audit, dossiers, papers
from .attachments import Upload
from .errors import NotFound, ServiceError

SCOPE = "openid profile email phone address"
DISCOVERY_SECONDS = 600  # how long a provider's discovery document and keys are trusted before asking again
LEEWAY_SECONDS = 60  # clock skew allowed between the provider and this server
# A claim, the form fields (top-level) it fills in order of preference, and whether it is authoritative.
CLAIM_FIELDS = {
    "citizen_id": dossiers.APPLICANT_KEYS["citizen_id"],
    "name": dossiers.APPLICANT_KEYS["name"],
    "birthdate": ("applicant_date_of_birth", "declarant_date_of_birth", "investor_date_of_birth", "date_of_birth"),
    "gender": ("applicant_gender", "declarant_gender", "gender"),
    "address": ("applicant_address", "declarant_address", "applicant_permanent_address", "address"),
    "phone": dossiers.APPLICANT_KEYS["phone"],
    "email": dossiers.APPLICANT_KEYS["email"],
}
AUTHORITATIVE = ("citizen_id", "name", "birthdate", "gender")  # from the population register; the rest may change
GENDERS = {"male": ("male", "nam", "m"), "female": ("female", "nu", "nữ", "f")}


class SignInRefused(ServiceError):
    """The sign-in cannot be completed; `reason` says why (state, provider, token, claims)."""

    code = "sign_in_refused"

    def __init__(self, message, reason):
        super().__init__(message)
        self.reason = reason


class ProviderUnavailable(SignInRefused):
    status = 503
    code = "identity_provider_unavailable"


@dataclass(frozen=True)
class Provider:
    """The citizens' OpenID provider this installation trusts (config.Settings.identity_provider)."""

    issuer: str
    client_id: str
    client_secret: str
    timeout: float = 10.0


@dataclass(frozen=True)
class Citizen:
    """A signed-in citizen: the claims of a verified ID token."""

    citizen_id: str
    name: str
    subject: str
    issuer: str
    birthdate: str = ""
    gender: str = ""
    address: str = ""
    phone: str = ""
    email: str = ""

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values) -> Citizen | None:
        """The citizen a session kept, or None if it is not one."""
        if not isinstance(values, dict) or not values.get("citizen_id") or not values.get("subject"):
            return None
        return cls(**{k: str(values.get(k) or "") for k in cls.__dataclass_fields__})


@dataclass
class Filled:
    """What the identity fills in a form: field name -> value, and the fields it locks."""

    values: dict = field(default_factory=dict)
    locked: set = field(default_factory=set)


_cache: dict = {}  # issuer -> (fetched at, discovery document, KeySet)
_cache_lock = threading.Lock()


def _get_json(provider: Provider, url: str) -> dict:
    try:
        answer = requests.get(url, timeout=provider.timeout)
        answer.raise_for_status()
        found = answer.json()
    except (requests.RequestException, ValueError):
        raise ProviderUnavailable("the identity provider cannot be reached; try again in a few minutes",
                                  "provider") from None
    if not isinstance(found, dict):
        raise ProviderUnavailable("the identity provider gave a malformed answer", "provider")
    return found


def _provider_facts(provider: Provider, refresh=False) -> tuple[dict, KeySet]:
    """The provider's discovery document and signing keys (kept DISCOVERY_SECONDS)."""
    with _cache_lock:
        kept = _cache.get(provider.issuer)
    if kept is not None and not refresh and time.monotonic() - kept[0] < DISCOVERY_SECONDS:
        return kept[1], kept[2]
    meta = _get_json(provider, provider.issuer + "/.well-known/openid-configuration")
    if meta.get("issuer") != provider.issuer or not all(isinstance(meta.get(k), str) for k in (
            "authorization_endpoint", "token_endpoint", "jwks_uri")):
        raise ProviderUnavailable("the identity provider's discovery document does not name this issuer", "provider")
    try:
        keys = KeySet.import_key_set(_get_json(provider, meta["jwks_uri"]))
    except (JoseError, ValueError, TypeError, KeyError):
        raise ProviderUnavailable("the identity provider's keys cannot be read", "provider") from None
    with _cache_lock:
        _cache[provider.issuer] = (time.monotonic(), meta, keys)
    return meta, keys


def _client(provider: Provider, redirect_uri: str) -> OAuth2Session:
    return OAuth2Session(provider.client_id, provider.client_secret, scope=SCOPE, redirect_uri=redirect_uri,
                         code_challenge_method="S256", token_endpoint_auth_method="client_secret_basic")


def begin(provider: Provider, redirect_uri: str) -> tuple[str, dict]:
    """(the provider's authorization address to send the browser to, what to keep until it comes
    back: state, nonce, PKCE verifier and redirect address — in the browser's signed session)."""
    meta, _keys = _provider_facts(provider)
    pending = {"state": secrets.token_urlsafe(24), "nonce": secrets.token_urlsafe(24),
               "verifier": secrets.token_urlsafe(48), "redirect_uri": redirect_uri}
    with _client(provider, redirect_uri) as client:
        url, _state = client.create_authorization_url(meta["authorization_endpoint"], state=pending["state"],
                                                      nonce=pending["nonce"], code_verifier=pending["verifier"])
    return url, pending


def finish(provider: Provider, pending: dict | None, answer: dict) -> Citizen:
    """The citizen the provider's answer (the callback's query) signs in, after checking the state,
    exchanging the code (with the PKCE verifier) and verifying the ID token. SignInRefused otherwise."""
    if not isinstance(pending, dict) or not pending.get("state"):
        raise SignInRefused("this sign-in was not started here, or has already been used: sign in again", "state")
    state = answer.get("state") or ""
    if not secrets.compare_digest(str(state).encode(), str(pending["state"]).encode()):
        raise SignInRefused("this sign-in's answer does not match the sign-in started here: sign in again", "state")
    if answer.get("error"):
        raise SignInRefused("the identity provider did not sign you in", "provider")
    if not answer.get("code"):
        raise SignInRefused("the identity provider's answer has no authorization code", "provider")
    meta, _keys = _provider_facts(provider)
    try:
        with _client(provider, pending["redirect_uri"]) as client:
            token = client.fetch_token(meta["token_endpoint"], grant_type="authorization_code", code=answer["code"],
                                       code_verifier=pending["verifier"], timeout=provider.timeout)
    except OAuthError:
        raise SignInRefused("the identity provider refused the sign-in's code", "provider") from None
    except (requests.RequestException, ValueError):
        raise ProviderUnavailable("the identity provider cannot be reached; try again in a few minutes",
                                  "provider") from None
    id_token = token.get("id_token") if isinstance(token, dict) else None
    if not isinstance(id_token, str):
        raise SignInRefused("the identity provider sent no ID token", "token")
    claims = verify_id_token(provider, id_token, pending["nonce"])
    return citizen_of(claims | {k: v for k, v in _userinfo(provider, meta, token, claims).items() if k not in claims})


def _userinfo(provider: Provider, meta: dict, token: dict, claims: dict) -> dict:
    """The provider's userinfo for the claims the ID token left out ({} when it has no endpoint or
    the token carries them all); refused if it speaks of another subject (OpenID Connect Core 5.3.2)."""
    if not meta.get("userinfo_endpoint") or all(claims.get(k) for k in ("citizen_id", "name", "birthdate")):
        return {}
    try:
        answer = requests.get(meta["userinfo_endpoint"], timeout=provider.timeout,
                              headers={"Authorization": f"Bearer {token.get('access_token', '')}"})
        answer.raise_for_status()
        found = answer.json()
    except (requests.RequestException, ValueError):
        raise ProviderUnavailable("the identity provider's userinfo cannot be read", "provider") from None
    if not isinstance(found, dict) or found.get("sub") != claims.get("sub"):
        raise SignInRefused("the identity provider's userinfo is about someone else", "claims")
    return found


def verify_id_token(provider: Provider, id_token: str, nonce: str | None) -> dict:
    """The claims of an ID token whose RS256 signature verifies under the provider's keys, issued by
    it to this client, not expired, and carrying the sign-in's nonce; SignInRefused otherwise."""
    meta, keys = _provider_facts(provider)
    try:
        try:
            token = jwt.decode(id_token, keys, algorithms=["RS256"])
        except JoseError:
            _meta, keys = _provider_facts(provider, refresh=True)  # the provider may have rotated its key
            token = jwt.decode(id_token, keys, algorithms=["RS256"])
        JWTClaimsRegistry(leeway=LEEWAY_SECONDS, iss={"essential": True, "value": meta["issuer"]},
                          aud={"essential": True, "value": provider.client_id}, exp={"essential": True},
                          iat={"essential": True}, sub={"essential": True},
                          **({"nonce": {"essential": True, "value": nonce}} if nonce is not None else {})
                          ).validate(token.claims)
    except (JoseError, ValueError, TypeError):
        raise SignInRefused("the identity provider's ID token cannot be trusted", "token") from None
    claims = token.claims
    audience = claims.get("aud")
    if isinstance(audience, list) and len(audience) > 1 and claims.get("azp") != provider.client_id:
        raise SignInRefused("the identity provider's ID token was issued to another party", "token")
    return claims


def citizen_of(claims: dict) -> Citizen:
    """The citizen of verified claims (VNeID's: citizen_id, name, birthdate, gender, address, phone_number, email)."""
    def text(name, limit=200):
        value = claims.get(name)
        if isinstance(value, dict):  # OIDC's address claim is an object
            value = value.get("formatted")
        return str(value).strip()[:limit] if isinstance(value, str | int) and str(value).strip() else ""

    citizen_id, name = text("citizen_id", 32), text("name")
    if not citizen_id.isdigit() or not name:
        raise SignInRefused("the identity provider did not say who you are (citizen ID number and name)", "claims")
    return Citizen(citizen_id=citizen_id, name=name, subject=text("sub"), issuer=text("iss", 500),
                   birthdate=text("birthdate", 10), gender=text("gender", 16), address=text("address", 500),
                   phone=text("phone_number", 20), email=text("email"))


def _field_for(claim, schema, metadata) -> str | None:
    """The top-level string field of the form the claim fills: the procedure's own mapping
    (procedure.json "applicant"), else the usual names."""
    properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    mapping = metadata.get("applicant") if isinstance(metadata.get("applicant"), dict) else {}
    names = [mapping[claim]] if isinstance(mapping.get(claim), str) else list(CLAIM_FIELDS[claim])
    return next((n for n in names if isinstance(properties.get(n), dict)
                 and properties[n].get("type", "string") == "string"), None)


def _value_for(claim, value, prop: dict):
    """The claim's value as the field takes it (a gender as the field's own option), or None."""
    options = prop.get("oneOf") or prop.get("anyOf")
    if claim == "gender":
        words = GENDERS.get(value.lower(), (value.lower(),))
        for option in options or [{"const": v} for v in prop.get("enum", [])]:
            if isinstance(option, dict) and (str(option.get("const", "")).lower() in words
                                             or str(option.get("title", "")).lower() in words):
                return option.get("const")
        return None
    return value or None


def fill(definition, metadata: dict, citizen: Citizen | None) -> Filled:
    """What the citizen's identity fills in a start form, and which of those fields it locks."""
    filled = Filled()
    if citizen is None or definition is None:
        return filled
    schema = definition.schema
    for claim in CLAIM_FIELDS:
        name = _field_for(claim, schema, metadata or {})
        value = _value_for(claim, getattr(citizen, claim), schema["properties"][name]) if name else None
        if value is None:
            continue
        filled.values[name] = value
        if claim in AUTHORITATIVE:
            filled.locked.add(name)
    return filled


def reused_uploads(actor, citizen: Citizen, chosen: dict) -> dict[str, Upload]:
    """The documents of the citizen's store chosen for file fields (field path -> document id), as
    the uploads the submission attaches; NotFound for a document that is not this citizen's here."""
    kept = {d.id: d for d in papers.kept_for(actor, citizen.citizen_id)}
    out = {}
    for path, document_id in chosen.items():
        document = kept.get(document_id)
        if document is None:
            raise NotFound("that kept document is not yours, or no longer kept")
        try:
            content = attachments.store().read(document.sha256)
        except FileNotFoundError:
            raise NotFound("the kept document's file is missing from the store") from None
        out[path] = Upload(document.name, content)
    return out


def submit(actor, procedure_code, citizen: Citizen, data: dict, uploads: dict, submission=None,
           reuse: dict | None = None, definition=None, metadata=None) -> tuple[Dossier, str]:
    """A signed-in citizen's online submission: the authoritative claims put over whatever the data
    says, the chosen kept documents attached (without a new upload), then the dossier linked to the
    citizen and the files they uploaded kept in their store. (dossier, lookup key)."""
    data = dict(data or {})
    filled = fill(definition, metadata or {}, citizen)
    overwritten = sorted(n for n in filled.locked if data.get(n) not in (None, "", filled.values[n]))
    for name in filled.locked:
        data[name] = filled.values[name]
    uploads = dict(uploads or {})
    reused = reused_uploads(actor, citizen, {p: i for p, i in (reuse or {}).items() if p not in uploads})
    dossier, key = dossiers.submit_online(
        actor, procedure_code, data, {**uploads, **reused}, submission=submission,
        linked=lambda stored, _now: _link(actor, stored, citizen, set(uploads), sorted(reused), overwritten))
    return dossier, key


def _link(actor, dossier, citizen: Citizen, uploaded: set, reused: list, overwritten: list) -> None:
    """Link the new dossier to the citizen and keep the files they uploaded in their store, inside the
    unit of work that stores the dossier: a dossier is never left that its citizen would not find."""
    CitizenDossier.create(citizen_id=citizen.citizen_id, dossier=dossier.id)
    province = papers.province_of(dossier.centre_id)
    titles = _titles(dossier)
    kept = 0
    for a in attachments.of_dossier(dossier) if uploaded else []:
        if a.field not in uploaded:
            continue
        CitizenDocument.create(province=province, citizen_id=citizen.citizen_id, kind="component",
                               title=titles.get(a.field, a.field)[:500], name=a.name, media_type=a.media_type,
                               size=a.size, sha256=a.sha256, dossier=dossier.id, kept_at=utcnow())
        kept += 1
    audit.record("dossier.identity_linked", actor, dossier=dossier, detail={
        "issuer": citizen.issuer[:200], "kept": kept, "reused": reused, "claims_overwritten": overwritten})


def _titles(dossier) -> dict:
    """The titles of the start form's top-level fields, by name (what a kept document is called)."""
    from .procedures import start_form

    form = start_form(dossier.version) if dossier.version_id else None
    properties = (form.schema.get("properties") or {}) if form is not None else {}
    return {n: str(p.get("title") or n) for n, p in properties.items() if isinstance(p, dict)}


@dataclass(frozen=True)
class MyDossier:
    code: str
    procedure: str
    centre: str
    status: str
    received_at: object
    due_at: object


def my_dossiers(citizen: Citizen, limit=200) -> list[MyDossier]:
    """The citizen's dossiers submitted signed in, at every centre, newest first."""
    rows = (CitizenDossier.select(Dossier.code, Dossier.status, Dossier.received_at, Dossier.due_at,
                                  Procedure.name.alias("procedure_name"), Centre.name.alias("centre_name"))
            .join(Dossier).join(Procedure).switch(Dossier).join(Centre, on=(Dossier.centre == Centre.id))
            .where(CitizenDossier.citizen_id == citizen.citizen_id)
            .order_by(Dossier.received_at.desc(), Dossier.id.desc()).limit(limit).dicts())
    return [MyDossier(r["code"], r["procedure_name"], r["centre_name"], r["status"], r["received_at"], r["due_at"])
            for r in rows]


def my_dossier(citizen: Citizen, code: str) -> tuple[Dossier, dict]:
    """One of the citizen's dossiers (linked to their citizen ID) and the rows of its progress;
    NotFound for any other code, whoever's it is."""
    dossier = (Dossier.select(*sql.DOSSIER_HEAD, Procedure, ProcedureVersion)
               .join(Procedure).switch(Dossier).join(ProcedureVersion)
               .switch(Dossier).join(CitizenDossier, on=(CitizenDossier.dossier == Dossier.id))
               .where((Dossier.code == (code or "").strip().upper()[:64])
                      & (CitizenDossier.citizen_id == citizen.citizen_id)).first())
    if dossier is None:
        raise NotFound("none of your dossiers has that code")
    return dossier, dossiers.page_rows(dossier)


def kept_documents(actor, citizen: Citizen | None) -> list[CitizenDocument]:
    """The documents kept for the signed-in citizen in the province of the actor's centre."""
    return papers.kept_for(actor, citizen.citizen_id) if citizen is not None else []
