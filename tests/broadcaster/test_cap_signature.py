"""Signed CAP alerts (issue 15): an enveloped XML signature verified against the source's
certificates with signxml; unsigned, tampered or signed by another key: refused. Keys and
certificates are made by the test (cryptography), the signatures by signxml's signer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml import XMLSigner

from broadcaster.cap.document import CapRefused, parse
from broadcaster.cap.signature import verify
from tests.broadcaster.test_cap import alert, info


def key_and_cert(name: str) -> tuple[bytes, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    pem_key = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return pem_key, cert.public_bytes(serialization.Encoding.PEM).decode()


def sign(document: bytes, key: bytes, cert: str) -> bytes:
    root = etree.fromstring(document)
    signed = XMLSigner().sign(root, key=key, cert=cert)
    return bytes(etree.tostring(signed, xml_declaration=True, encoding="UTF-8"))


@pytest.fixture(scope="module")
def met() -> tuple[bytes, str]:
    return key_and_cert("met.example.cn")


@pytest.fixture(scope="module")
def other() -> tuple[bytes, str]:
    return key_and_cert("other.example.cn")


def test_a_signed_alert_verifies_and_reads_from_what_was_signed(met, other) -> None:  # type: ignore[no-untyped-def]
    signed = sign(alert(info("zh-CN", "暴雨红色预警")), *met)
    assert parse(signed).signed  # valid CAP with the signature where the schema allows it
    content = verify(signed, [other[1], met[1]])  # any of the certificates
    assert parse(content).infos[0].headline == "暴雨红色预警"
    assert b"Signature" not in content


def test_unsigned_tampered_or_foreign_signatures_are_refused(met, other) -> None:  # type: ignore[no-untyped-def]
    plain = alert(info("zh-CN", "暴雨红色预警"))
    with pytest.raises(CapRefused, match="must be signed"):
        verify(plain, [met[1]])
    signed = sign(plain, *met)
    with pytest.raises(CapRefused, match="does not verify"):
        verify(signed, [other[1]])
    tampered = signed.replace("暴雨红色预警".encode(), "一切正常".encode())
    assert tampered != signed
    with pytest.raises(CapRefused, match="does not verify"):
        verify(tampered, [met[1]])
    by_other = sign(plain, *other)
    with pytest.raises(CapRefused, match="does not verify"):
        verify(by_other, [met[1]])
