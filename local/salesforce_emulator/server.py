"""Serving the emulator over HTTPS on localhost, with a certificate made at start."""

from __future__ import annotations

import ipaddress
import ssl
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from werkzeug.serving import WSGIRequestHandler, make_server


@dataclass(frozen=True)
class ServedEmulator:
    url: str
    ca_file: str  # the self-signed certificate, usable as REQUESTS_CA_BUNDLE


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        """Tests and the demo print their own reports; one line per request would drown them."""


@contextmanager
def serve_https(app: Any, host: str, port: int) -> Iterator[ServedEmulator]:
    with tempfile.TemporaryDirectory(prefix="salesforce-emulator-") as directory:
        cert_file, key_file = _self_signed_certificate(Path(directory), host)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        server = make_server(
            host, port, app, threaded=True, request_handler=_QuietHandler, ssl_context=context
        )
        thread = threading.Thread(target=server.serve_forever, name="salesforce-emulator", daemon=True)
        thread.start()
        try:
            yield ServedEmulator(url=f"https://{host}:{server.port}", ca_file=cert_file)
        finally:
            server.shutdown()
            server.server_close()
            thread.join()


def _self_signed_certificate(directory: Path, host: str) -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Salesforce emulator")])
    names: list[x509.GeneralName] = [
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
    ]
    try:
        names.append(x509.IPAddress(ipaddress.ip_address(host)))
    except ValueError:
        names.append(x509.DNSName(host))
    now = datetime.now(UTC)
    public_key = key.public_key()
    # A CA certificate that is also the server's: the client trusts it directly as its bundle,
    # and Python's strict X.509 checks want the key identifiers and usages spelled out.
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName(list(dict.fromkeys(names))), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public_key), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "emulator.crt", directory / "emulator.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return str(cert_file), str(key_file)
