"""Where a centre's connectors may go: its allowed hosts and its connector proxy (the back office edits
them), and the check every outgoing address passes before a byte is sent.

An allowed host is written one a line: a name (`thue.gov.vn`), every name under a domain
(`*.gdt.gov.vn`), either with a port (`api.tinh.gov.vn:8443`), an address (`10.20.0.5`) or a network
(`10.20.0.0/24`). A URL's host must match one. Then its name is resolved, and every address it
resolves to must be a public one, or one an address or network line names explicitly: a listed name
that resolves to a private, loopback or link-local address (the server itself, the cloud's metadata
service, the office network) is refused unless that address is listed too. The call then connects to
the address that was checked (no second lookup a DNS answer could change in between).
"""

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from ...db import write_transaction
from ...models import ConnectorSettings, utcnow
from .. import audit
from ..errors import Invalid
from .options import ConnectorFailure
from .secrets import _manager

MAX_HOSTS = 200


@dataclass(frozen=True)
class Allowed:
    """A centre's allow list, parsed: names (exact), domains (`*.x`: names under x), optional ports,
    and networks (addresses are /32 or /128 networks)."""

    names: frozenset = frozenset()  # (name, port or None)
    domains: frozenset = frozenset()  # (".gdt.gov.vn", port or None)
    networks: tuple = ()  # (ip_network, port or None)

    def lets_name(self, host: str, port: int) -> bool:
        host = host.lower().rstrip(".")
        if (host, None) in self.names or (host, port) in self.names:
            return True
        return any(host.endswith(d) and p in (None, port) for d, p in self.domains)

    def lets_address(self, address, port: int) -> bool:
        return any(address in net and p in (None, port) for net, p in self.networks)


@dataclass(frozen=True)
class Target:
    """An address a call may go to: scheme, the name as written (Host header, TLS name), the checked
    IP address it connects to, the port and the path with its query."""

    scheme: str
    host: str
    address: str
    port: int
    path: str


def parse_allowed(text: str) -> tuple[Allowed, list[str]]:
    """The allow list written in `text` (one entry a line, # starts a comment) and the problems found."""
    names, domains, networks, problems = set(), set(), [], []
    for number, raw in enumerate((text or "").splitlines(), 1):
        entry = raw.split("#", 1)[0].strip().lower()
        if not entry:
            continue
        try:
            networks.append((ipaddress.ip_network(entry, strict=False), None))
            continue
        except ValueError:
            pass
        if "/" in entry or "@" in entry:
            problems.append(f"line {number}: {raw.strip()[:80]!r}: write the host only (and its port), not a URL")
            continue
        host, port = _split_port(entry)
        if port == -1:
            problems.append(f"line {number}: {raw.strip()[:80]!r} has a port that is not a number from 1 to 65535")
            continue
        try:
            networks.append((ipaddress.ip_network(host.strip("[]"), strict=False), port))
            continue
        except ValueError:
            pass
        if host.startswith("*.") and _is_name(host[2:]):
            domains.add((host[1:], port))
        elif _is_name(host):
            names.add((host.rstrip("."), port))
        else:
            problems.append(f"line {number}: {raw.strip()[:80]!r} is not a host name, *.domain, address or network")
    return Allowed(frozenset(names), frozenset(domains), tuple(networks)), problems


def _split_port(entry):
    if entry.count(":") == 1 or (entry.startswith("[") and "]:" in entry):
        host, _, port = entry.rpartition(":")
        return host, int(port) if port.isdigit() and 0 < int(port) < 65536 else -1
    return entry, None


def _is_name(host: str) -> bool:
    labels = host.rstrip(".").split(".")
    return bool(host) and len(host) <= 253 and all(
        0 < len(label) <= 63 and label.replace("-", "").isalnum() and label.isascii() for label in labels)


def settings_of(centre_id) -> ConnectorSettings:
    """The centre's connector settings (empty ones where it has saved none)."""
    return ConnectorSettings.get_or_none(ConnectorSettings.centre == centre_id) or ConnectorSettings(
        centre=centre_id, allowed_hosts="", proxy_url=None)


def allowed_of(centre_id) -> Allowed:
    return parse_allowed(settings_of(centre_id).allowed_hosts)[0]


def save_settings(actor, allowed_hosts: str, proxy_url: str) -> ConnectorSettings:
    """Save the actor's centre's allowed hosts and connector proxy URL (empty: none). Audited."""
    _manager(actor)
    allowed_hosts = (allowed_hosts or "").strip()
    allowed, problems = parse_allowed(allowed_hosts)
    if problems:
        raise Invalid("the allowed hosts were not saved: " + "; ".join(problems[:5]))
    if len(allowed.names) + len(allowed.domains) + len(allowed.networks) > MAX_HOSTS:
        raise Invalid(f"at most {MAX_HOSTS} allowed hosts")
    proxy_url = (proxy_url or "").strip().rstrip("/") or None
    if proxy_url is not None:
        parts = urlsplit(proxy_url)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password \
                or parts.query or parts.fragment or len(proxy_url) > 500:
            raise Invalid("the connector proxy's URL is http(s)://host[:port][/path], with no user, password or "
                          "query (a key for it is the secret CONNECTOR_PROXY_API_KEY)")
    with write_transaction():
        values = {"allowed_hosts": allowed_hosts, "proxy_url": proxy_url, "updated_by": actor.id,
                  "updated_at": utcnow()}
        if not ConnectorSettings.update(**values).where(ConnectorSettings.centre == actor.centre_id).execute():
            ConnectorSettings.insert(centre=actor.centre_id, **values).execute()
        audit.record("connector.settings_saved", actor,
                     detail={"allowed_hosts": allowed_hosts.splitlines(), "proxy_url": proxy_url})
    return settings_of(actor.centre_id)


def split_url(url) -> tuple[str, str, int, str]:
    """(scheme, host, port, path?query) of an http(s) URL, or ConnectorFailure saying what is wrong."""
    if not isinstance(url, str) or not url.strip():
        raise ConnectorFailure("the service task gives no URL to call (its parameter url)")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise ConnectorFailure(f"{url[:200]!r} is not a URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConnectorFailure(f"{url[:200]!r} is not an http:// or https:// URL")
    if parts.username or parts.password:
        raise ConnectorFailure("a URL with a user name or password in it is not called: use the parameters "
                               "basic_auth_username and basic_auth_password with a secret")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80), path


def refusal(host: str, port: int) -> str:
    return (f"{host}:{port} is not on this centre's list of allowed hosts; an administrator adds it in the back "
            "office (Kết nối) if the centre means to call it")


def check(centre_id, url, allowed: Allowed | None = None) -> Target:
    """The checked target of a call to `url` from this centre, or ConnectorFailure with a plain reason."""
    allowed = allowed if allowed is not None else allowed_of(centre_id)
    scheme, host, port, path = split_url(url)
    literal = _literal_address(host)
    if literal is not None:
        if not (allowed.lets_address(literal, port) or (literal.is_global and allowed.lets_name(host, port))):
            raise ConnectorFailure(refusal(host, port))
        return Target(scheme, host, str(literal), port, path)
    if not allowed.lets_name(host, port):
        raise ConnectorFailure(refusal(host, port))
    try:
        found = {info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)}
    except (OSError, UnicodeError):
        raise ConnectorFailure(f"the name {host} could not be resolved", retryable=True) from None
    addresses = sorted((ipaddress.ip_address(a.split("%", 1)[0]) for a in found), key=lambda a: (a.version, a))
    for address in addresses:
        if not address.is_global and not allowed.lets_address(address, port):
            raise ConnectorFailure(f"{host} resolves to {address}, an internal address; it is called only if an "
                                   "administrator lists that address itself among the allowed hosts")
    return Target(scheme, host, str(addresses[0]), port, path)


def _literal_address(host):
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
