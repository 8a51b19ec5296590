"""How connector calls are made in this installation (the runtime holds one `Options`), and the one
exception every connector raises: `ConnectorFailure`, whose message is plain, names no secret and is
fit for an administrator's incident list."""

import ssl
from dataclasses import dataclass
from functools import cached_property

from cryptography.fernet import Fernet, MultiFernet

from .. import runtime


class ConnectorFailure(Exception):
    """A connector call that did not give a result. `message` is shown to administrators as the
    dossier's incident (secrets already masked); `retryable` says whether trying again might help
    (a timeout, a refused connection, a 5xx) or not (a host off the allow list, a 4xx)."""

    def __init__(self, message: str, retryable: bool = False):
        super().__init__(message)
        self.message, self.retryable = message, retryable


@dataclass(eq=False)
class Options:
    """The secrets' key(s) (Fernet, comma-separated: the first encrypts, all decrypt), the timeout of
    each HTTP call, how many tries a call gets and the pause before the second (doubled each time), and
    a file of certificate authorities HTTPS services may also be signed by."""

    keys: str = ""
    timeout_seconds: float = 10.0
    attempts: int = 3
    backoff_seconds: float = 0.5
    max_response_bytes: int = 2 * 1024 * 1024
    ca_file: str | None = None  # certificates of authorities trusted besides the system's (a province's own CA)

    @cached_property
    def cipher(self) -> MultiFernet:
        keys = [k.strip() for k in (self.keys or "").split(",") if k.strip()]
        if not keys:
            raise ConnectorFailure("no connector key is configured (ONESTOP_CONNECTOR_KEY): secrets cannot be read")
        return MultiFernet([Fernet(k.encode()) for k in keys])

    @cached_property
    def tls(self) -> ssl.SSLContext:
        """The TLS context of HTTPS calls: the system's authorities, plus `ca_file`'s if given."""
        context = ssl.create_default_context()
        if self.ca_file:
            context.load_verify_locations(cafile=self.ca_file)
        return context


_DEFAULT = Options()


def current() -> Options:
    """The options of the runtime acting now (a runtime built without them: the defaults, no key)."""
    return runtime.current().connectors or _DEFAULT
