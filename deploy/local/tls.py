"""A local certificate authority: the secured broker's, and PostgreSQL's server certificate.

Generated once with the ``cryptography`` package into ``<kafka dir>/tls/`` (keys mode 0600):
``ca.pem`` (what clients trust), ``broker.pem`` (key + chain, Kafka's PEM key store, valid for
``127.0.0.1`` and ``localhost``), and ``<principal>.pem`` / ``<principal>.key`` for the mTLS
listener, whose subject ``CN=<principal>`` maps to the Kafka principal ``User:<principal>``.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

BROKER_CN = "lodestone-broker"
_VALID_DAYS = 825
_PEM = serialization.Encoding.PEM
_PKCS8 = serialization.PrivateFormat.PKCS8
_NO_PASSWORD = serialization.NoEncryption()


@dataclass(frozen=True)
class Authority:
    """Where the files of one local CA live."""

    directory: Path

    @property
    def ca_file(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def ca_key_file(self) -> Path:
        return self.directory / "ca.key"

    @property
    def broker_keystore(self) -> Path:
        return self.directory / "broker.pem"

    def cert_file(self, principal: str) -> Path:
        return self.directory / f"{principal}.pem"

    def key_file(self, principal: str) -> Path:
        return self.directory / f"{principal}.key"


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write_secret(path: Path, data: bytes) -> None:
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_bytes(data)


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None,
    *,
    server: bool = False,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    issuer_name, issuer_key = issuer or (_name(subject), key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=_VALID_DAYS))
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
    )
    if issuer is not None:
        usages = [ExtendedKeyUsageOID.CLIENT_AUTH]
        if server:
            usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
            names: list[x509.GeneralName] = [
                x509.DNSName("localhost"),
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            ]
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _ca(authority: Authority) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """The authority's CA certificate and key, created on first use."""
    authority.directory.mkdir(parents=True, exist_ok=True)
    if authority.ca_file.exists() and authority.ca_key_file.exists():
        key = serialization.load_pem_private_key(authority.ca_key_file.read_bytes(), None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return x509.load_pem_x509_certificate(authority.ca_file.read_bytes()), key
    key = ec.generate_private_key(ec.SECP256R1())
    ca = _certificate("Lodestone local CA", key, None)
    _write_secret(authority.ca_key_file, key.private_bytes(_PEM, _PKCS8, _NO_PASSWORD))
    authority.ca_file.write_bytes(ca.public_bytes(_PEM))
    return ca, key


def ensure_server_certificate(authority: Authority, name: str) -> tuple[Path, Path]:
    """A server certificate for ``127.0.0.1``/``localhost`` and its key, in separate files
    (``<name>.pem``, ``<name>.key``), signed by the authority's CA; created once."""
    cert_file, key_file = authority.cert_file(name), authority.key_file(name)
    if not cert_file.exists():
        ca, ca_key = _ca(authority)
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _certificate(name, key, (ca.subject, ca_key), server=True)
        _write_secret(key_file, key.private_bytes(_PEM, _PKCS8, _NO_PASSWORD))
        cert_file.write_bytes(cert.public_bytes(_PEM))
    return cert_file, key_file


def ensure_authority(authority: Authority, principals: list[str]) -> None:
    """Create the CA, the broker's key store and one client certificate per principal, once."""
    authority.directory.mkdir(parents=True, exist_ok=True)
    ca, ca_key = _ca(authority)
    issuer = (ca.subject, ca_key)
    if not authority.broker_keystore.exists():
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _certificate(BROKER_CN, key, issuer, server=True)
        _write_secret(
            authority.broker_keystore,
            key.private_bytes(_PEM, _PKCS8, _NO_PASSWORD)
            + cert.public_bytes(_PEM)
            + ca.public_bytes(_PEM),
        )
    for principal in principals:
        if authority.cert_file(principal).exists():
            continue
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _certificate(principal, key, issuer)
        _write_secret(authority.key_file(principal), key.private_bytes(_PEM, _PKCS8, _NO_PASSWORD))
        authority.cert_file(principal).write_bytes(cert.public_bytes(_PEM) + ca.public_bytes(_PEM))
