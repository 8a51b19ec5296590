"""Connectors: what a SpiffArena service task (`spiffworkflow:serviceTaskOperator`) calls.

The registry is: the built-in HTTP connectors (`http/GetRequest`, `http/PostRequest`... as SpiffArena's
connector proxy names them: `http`), then the centre's connector proxy if it has one (`proxy`), for
every other operator. `call(centre_id, operator, params)` fills the secrets a model names into the
parameters (`secrets`), checks the address against the centre's allowed hosts and refuses internal
addresses that are not listed (`hosts`), makes the call with a timeout and tries it again with growing
pauses, and returns the result the task's result variable receives, with every secret it used masked.
A call that cannot give a result raises `ConnectorFailure` with a plain message, also masked.

Calls are made by the worker (`services.service_calls`), never inside a web request's transaction.
"""

import logging

from ...models import ConnectorSecret
from . import http, proxy
from .hosts import allowed_of, check, parse_allowed, save_settings, settings_of
from .literal import refused_literal_urls
from .options import ConnectorFailure, Options, current
from .secrets import MANAGERS, SecretRow, Secrets, delete_secret, masking, save_secret, secrets_of

__all__ = ["ConnectorFailure", "MANAGERS", "Options", "SecretRow", "allowed_of", "call", "check", "commands",
           "current", "delete_secret", "parse_allowed", "refused_literal_urls", "save_secret", "save_settings",
           "secrets_of", "settings_of"]
log = logging.getLogger("onestop.connectors")


def call(centre_id, operator: str, params: dict | None, task: dict | None = None) -> dict:
    """The result of one connector call for a dossier of this centre, or ConnectorFailure. `task`
    ({"task_id", "dossier"}) is passed on to a connector proxy as SpiffArena passes it."""
    options, secrets = current(), Secrets(centre_id)
    with masking(secrets):
        try:
            filled = secrets.fill(dict(params or {}))
            if operator in http.COMMANDS:
                result = http.run(centre_id, operator, filled, options)
            else:
                proxy_url = settings_of(centre_id).proxy_url
                if not proxy_url:
                    raise ConnectorFailure(f"there is no connector {operator!r}: onestop has http/GetRequest, "
                                           "http/PostRequest, http/PutRequest, http/PatchRequest, http/DeleteRequest "
                                           "and http/HeadRequest, and this centre has no connector proxy for the others")
                result = proxy.run(proxy_url, operator, filled, options, _proxy_key(centre_id, secrets), task)
        except ConnectorFailure as failure:
            raise ConnectorFailure(secrets.mask(failure.message), failure.retryable) from None
        except Exception as exc:  # a connector's own fault: logged masked, without a traceback that could hold a secret
            log.error("connector %s failed unexpectedly: %s", operator, secrets.mask(repr(exc))[:2000])
            raise ConnectorFailure(f"the connector {operator} failed (an internal error, logged on the server)") from None
    return secrets.mask(result)


def _proxy_key(centre_id, secrets: Secrets):
    if ConnectorSecret.get_or_none((ConnectorSecret.centre == centre_id)
                                   & (ConnectorSecret.name == proxy.API_KEY_SECRET)) is None:
        return None
    return secrets.fill(f"secret:{proxy.API_KEY_SECRET}")


def commands(actor) -> tuple[list[dict], str | None]:
    """What the actor's centre's models can call: the built-in commands and its proxy's, as
    `/v1/commands` lists them, and why the proxy's could not be listed (None if they could)."""
    built_in = [{"id": name, "parameters": spec[1], "source": "onestop"} for name, spec in http.COMMANDS.items()]
    proxy_url = settings_of(actor.centre_id).proxy_url
    if not proxy_url:
        return built_in, None
    secrets = Secrets(actor.centre_id)
    try:
        listed = proxy.commands(proxy_url, current(), _proxy_key(actor.centre_id, secrets))
    except ConnectorFailure as failure:
        return built_in, secrets.mask(failure.message)
    return built_in + [{**c, "source": "proxy"} for c in listed if c["id"] not in http.COMMANDS], None
