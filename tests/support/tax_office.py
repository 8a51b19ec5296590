"""A simulator of the tax office, a real HTTP server on 127.0.0.1 that the connector tests call, and of
a SpiffArena connector proxy in front of it (GET /v1/commands, POST /v1/do/<operator>).

It answers:
- GET /taxpayers/<code>: the taxpayer as JSON (name, debt);
- GET /flaky/<code>: 503 while `failures_left` > 0 (each request spends one), then as /taxpayers;
- GET /slow: after `slow_seconds`;
- GET /echo: the request's headers as JSON (a service that repeats what it was sent);
- GET /redirect: 302 to /taxpayers/0101;
- POST /declarations: {"accepted": true, "received": <the JSON body>};
- GET /v1/commands and POST /v1/do/tax/LookupDebt: a connector proxy's two endpoints (and
  tax/Broken, tax/Upstream404, tax/Plain: a connector's own error, a failing service behind the
  proxy, an older proxy's bare result).
Every request is kept in `requests` (method, path, headers, body)."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.support.simulators import POLL_SECONDS

TAXPAYERS = {"0101": {"name": "Hộ kinh doanh Minh Anh", "debt": 0}, "0202": {"name": "Công ty Sông Hồng", "debt": 1500000}}
PROXY_COMMANDS = [{"id": "tax/LookupDebt", "parameters": [{"id": "tax_code", "type": "str", "required": True}]}]


def self_signed(folder):
    """A certificate for 127.0.0.1 signed by itself (no authority vouches for it) and its key, as files."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .sign(key, hashes.SHA256()))
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    return folder / "cert.pem", folder / "key.pem"


class TaxOffice:
    def __init__(self, tls_files=None):
        self.requests, self.failures_left, self.slow_seconds = [], 0, 0.0
        self.lock = threading.Lock()
        office = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                office._serve(self, None)

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                office._serve(self, self.rfile.read(length) if length else b"")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        if tls_files:  # HTTPS with the given certificate and key
            import ssl

            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls_files)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
            self.url = f"https://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(POLL_SECONDS,), daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def paths(self):
        with self.lock:
            return [r["path"] for r in self.requests]

    def _serve(self, handler, body):
        with self.lock:
            self.requests.append({"method": handler.command, "path": handler.path, "headers": dict(handler.headers),
                                  "body": body})
        status, answer, headers = self._answer(handler, body)
        data = json.dumps(answer, ensure_ascii=False).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json; charset=utf-8")
        handler.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(data)

    def _answer(self, handler, body):
        path = handler.path.split("?", 1)[0]
        if path.startswith("/flaky/"):
            with self.lock:
                failing, self.failures_left = self.failures_left > 0, max(0, self.failures_left - 1)
            if failing:
                return 503, {"error": "busy"}, {}
            path = "/taxpayers/" + path.rsplit("/", 1)[1]
        if path.startswith("/taxpayers/"):
            found = TAXPAYERS.get(path.rsplit("/", 1)[1])
            return (200, found, {}) if found else (404, {"error": "no such taxpayer"}, {})
        if path == "/slow":
            time.sleep(self.slow_seconds)
            return 200, {"late": True}, {}
        if path == "/echo":
            return 200, {"headers": dict(handler.headers)}, {}
        if path == "/redirect":
            return 302, {}, {"Location": "/taxpayers/0101"}
        if path == "/declarations" and body is not None:
            return 200, {"accepted": True, "received": json.loads(body or b"null")}, {}
        if path == "/v1/commands":
            return 200, PROXY_COMMANDS, {}
        if path == "/v1/do/tax/LookupDebt" and body is not None:
            params = json.loads(body)
            found = TAXPAYERS.get(params.get("tax_code"), {})
            return 200, {"command_response": {"body": json.dumps({"debt": found.get("debt")}),
                                              "mimetype": "application/json", "http_status": 200},
                         "error": None, "command_response_version": 2, "spiff__logs": []}, {}
        if path == "/v1/do/tax/Broken" and body is not None:  # a connector that reports its own failure
            return 200, {"command_response": {}, "error": {"error_code": "TaxOfficeDown", "message": "maintenance"},
                         "command_response_version": 2, "spiff__logs": []}, {}
        if path == "/v1/do/tax/Upstream404" and body is not None:  # the service behind the proxy said 404
            return 200, {"command_response": {"body": "{}", "mimetype": "application/json", "http_status": 404},
                         "error": None, "command_response_version": 2}, {}
        if path == "/v1/do/tax/Plain" and body is not None:  # an older proxy: the result itself
            return 200, {"debt": 7}, {}
        return 404, {"error": "not found"}, {}
