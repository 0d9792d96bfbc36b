"""TLS through the engine's session: one CA bundle load per run, verification kept.

A local HTTPS server with a self-signed certificate made by the ``openssl`` command (skipped where it is missing).
"""

from __future__ import annotations

import http.server
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from analyzer.metadata.http import HttpSettings, make_session

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")


class _Hello(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body = b"hello"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """(base URL, the certificate as a CA bundle) of an HTTPS server on the loopback address."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}/", cert
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def bundle_loads(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every CA bundle loaded into any TLS context while the test runs."""
    loads: list[Any] = []
    original = ssl.SSLContext.load_verify_locations

    def counted(self: ssl.SSLContext, *args: Any, **kw: Any) -> None:
        loads.append(args or kw)
        original(self, *args, **kw)

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", counted)
    return loads


def test_many_connections_load_the_ca_bundle_once(
    tls_server: tuple[str, Path], bundle_loads: list[Any]
) -> None:
    url, cert = tls_server
    session = make_session(pool_size=4, http=HttpSettings(5, 5, 0))
    session.trust_env = False  # this bundle, not the machine's
    session.verify = str(cert)
    answers: list[bytes] = []

    def get() -> None:
        answers.append(session.get(url, headers={"Connection": "close"}, timeout=5).content)

    threads = [threading.Thread(target=get) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers == [b"hello"] * 6  # six connections (each answer closes its own)
    assert len(bundle_loads) == 1
    session.close()


def test_a_certificate_outside_the_bundle_is_still_refused(
    tls_server: tuple[str, Path], bundle_loads: list[Any]
) -> None:
    url, _ = tls_server
    session = make_session(pool_size=2, http=HttpSettings(5, 5, 0))
    session.trust_env = False  # the default bundle, not this machine's
    for _ in range(2):
        with pytest.raises(requests.exceptions.SSLError):
            session.get(url, timeout=5)
    assert len(bundle_loads) == 1
    session.close()


def test_verification_turned_off_or_a_client_certificate_keep_requests_own_way(
    tls_server: tuple[str, Path], bundle_loads: list[Any]
) -> None:
    url, cert = tls_server
    session = make_session(pool_size=2, http=HttpSettings(5, 5, 0))
    adapter = session.get_adapter(url)
    request = requests.Request("GET", url).prepare()
    _, pool = adapter.build_connection_pool_key_attributes(request, False)
    assert "ssl_context" not in pool
    _, pool = adapter.build_connection_pool_key_attributes(request, str(cert), cert=(str(cert), str(cert)))
    assert "ssl_context" not in pool and pool["ca_certs"] == str(cert)
    _, pool = adapter.build_connection_pool_key_attributes(request, str(cert.with_name("missing.pem")))
    assert "ssl_context" not in pool  # requests then names the missing bundle itself
    assert session.get(url, verify=False, timeout=5).content == b"hello"
    session.close()
