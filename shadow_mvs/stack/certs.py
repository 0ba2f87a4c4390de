"""A throw-away PKI for TLS stacks and tests: a CA, server and client certificates, and the
broken ones a verifier must name (another CA, expired, wrong host name).

Generated at bring-up or test time into a git-ignored directory; never committed.
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

DEFAULT_HOSTS = ("localhost", "127.0.0.1", "host.docker.internal")


@dataclass(frozen=True)
class Pair:
    cert: Path
    key: Path


@dataclass(frozen=True)
class Pki:
    root: Path
    ca: Path  # the CA bundle clients trust
    server: Pair  # valid for DEFAULT_HOSTS
    client: Pair  # client certificate from the same CA
    other_ca: Path  # a CA nobody signed with (CA mismatch)
    expired: Pair  # same CA, validity ended yesterday
    wrong_host: Pair  # same CA, valid for another host name only


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "shadow-mvs verify"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> Path:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)
    return path


def _write_cert(cert: x509.Certificate, path: Path) -> Path:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def _ca(common_name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = _key()
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _alt_names(hosts: tuple[str, ...]) -> x509.SubjectAlternativeName:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return x509.SubjectAlternativeName(names)


def _leaf(
    ca_key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    hosts: tuple[str, ...],
    client: bool = False,
    expired: bool = False,
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = _key()
    now = dt.datetime.now(dt.UTC)
    start, end = (
        (now - dt.timedelta(days=10), now - dt.timedelta(days=1))
        if expired
        else (now - dt.timedelta(hours=1), now + dt.timedelta(days=30))
    )
    usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(hosts[0]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    if not client:
        builder = builder.add_extension(_alt_names(hosts), critical=False)
    return key, builder.sign(ca_key, hashes.SHA256())


def _pair(root: Path, stem: str, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate) -> Pair:
    return Pair(_write_cert(cert, root / f"{stem}.pem"), _write_key(key, root / f"{stem}-key.pem"))


def make_pki(root: Path, hosts: tuple[str, ...] = DEFAULT_HOSTS) -> Pki:
    """Write a fresh PKI under ``root`` (created, 0700) and say where each file is."""
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o700)
    ca_key, ca_cert = _ca("shadow-mvs test CA")
    _, other_cert = _ca("shadow-mvs other CA")
    return Pki(
        root=root,
        ca=_write_cert(ca_cert, root / "ca.pem"),
        server=_pair(root, "server", *_leaf(ca_key, ca_cert, hosts)),
        client=_pair(root, "client", *_leaf(ca_key, ca_cert, ("verify-client",), client=True)),
        other_ca=_write_cert(other_cert, root / "other-ca.pem"),
        expired=_pair(root, "expired", *_leaf(ca_key, ca_cert, hosts, expired=True)),
        wrong_host=_pair(root, "wrong-host", *_leaf(ca_key, ca_cert, ("elsewhere.invalid",))),
    )
