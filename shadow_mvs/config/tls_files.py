"""TLS files read and parsed before the first request, so a bad one is a usage error naming
the option and the file (exit 2), never a traceback from whatever first builds an SSL
context. Parsing is ``cryptography``'s (a runtime dependency already); ``ssl`` then loads
the same files exactly as the clients will, so nothing it would refuse gets through."""

from __future__ import annotations

import re
import ssl
from pathlib import Path
from typing import Any

from shadow_mvs.config.access import TLS, AccessError, read_limited

PEM_CERTIFICATE = b"-----BEGIN CERTIFICATE-----"
PEM_KEY = b"PRIVATE KEY-----"
KEY_BLOCK = re.compile(
    rb"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.S
)


def _read(path: str, where: str) -> bytes:
    file = Path(path)
    if file.is_dir():
        raise AccessError(f"{where}={path}: is a directory, not a PEM file")
    try:
        data = read_limited(file)
    except OSError as error:
        raise AccessError(f"{where}={path}: cannot read it ({error.strerror or error})") from None
    if not data.strip():
        raise AccessError(f"{where}={path}: is empty, not a PEM file")
    return data


def _certificates(data: bytes, path: str, where: str) -> list[Any]:
    from cryptography import x509

    if PEM_CERTIFICATE not in data:
        kind = "a private key" if PEM_KEY in data else "no PEM certificate"
        raise AccessError(f"{where}={path}: holds {kind}, expected a PEM certificate")
    try:
        return x509.load_pem_x509_certificates(data)
    except ValueError:
        raise AccessError(f"{where}={path}: its PEM certificate does not parse") from None


def _private_key(data: bytes, path: str, where: str) -> Any:
    from cryptography.hazmat.primitives import serialization

    if PEM_KEY not in data:
        kind = "a certificate" if PEM_CERTIFICATE in data else "no PEM private key"
        raise AccessError(f"{where}={path}: holds {kind}, expected a PEM private key")
    block = KEY_BLOCK.search(data)
    try:
        return serialization.load_pem_private_key(block.group() if block else data, None)
    except TypeError:
        raise AccessError(f"{where}={path}: the key is encrypted; give it unencrypted") from None
    except Exception:  # cryptography raises ValueError or an unsupported-algorithm error
        raise AccessError(f"{where}={path}: its PEM private key does not parse") from None


def _public(key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    result: bytes = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return result


def check_tls_files(tls: TLS, sources: dict[str, str]) -> None:
    """``sources``: ca_file/cert_file/key_file → the option or variable that set it."""
    if not (tls.ca_file or tls.cert_file or tls.key_file):
        return  # the system CA store: nothing of ours to read
    if tls.ca_file:
        _certificates(_read(tls.ca_file, sources["ca_file"]), tls.ca_file, sources["ca_file"])
    if tls.key_file and not tls.cert_file:
        raise AccessError(
            f"{sources['key_file']} is set without a client certificate "
            f"({sources['cert_file']}): set both"
        )
    if tls.cert_file:
        cert_data = _read(tls.cert_file, sources["cert_file"])
        certificate = _certificates(cert_data, tls.cert_file, sources["cert_file"])[0]
        if tls.key_file:
            key_where, key_path = sources["key_file"], tls.key_file
            key = _private_key(_read(key_path, key_where), key_path, key_where)
        else:  # ssl reads the key from the certificate file then
            key_where, key_path = sources["cert_file"], tls.cert_file
            if PEM_KEY not in cert_data:
                raise AccessError(
                    f"{key_where}={key_path}: holds no private key; set {sources['key_file']} too"
                )
            key = _private_key(cert_data, key_path, key_where)
        if _public(certificate.public_key()) != _public(key.public_key()):
            raise AccessError(
                f"{key_where}={key_path}: the private key does not match the certificate "
                f"of {sources['cert_file']}={tls.cert_file}"
            )
    try:
        tls.ssl_context()  # what the clients will build: nothing it refuses gets through
    except (ssl.SSLError, OSError, ValueError) as error:
        raise AccessError(f"TLS files refused by ssl: {error}") from None
