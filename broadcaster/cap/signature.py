"""XML signatures of CAP alerts (issue 15, docs/cap.md "Signatures"), with signxml.

A source or feed configured with `certificates` must sign every alert: an enveloped XML-DSig
`Signature` as a child of `alert` (CAP 1.2, section 3.3.2.1), verified against one of the
certificates (the certificate is the trust: no chain is built). What the loudspeakers say
is read from the signed content only (what signxml returns as verified), never from the
document around it, so nothing can be added beside a valid signature.
"""

from __future__ import annotations

from collections.abc import Sequence

from lxml import etree
from signxml import SignatureConfiguration, XMLVerifier
from signxml.exceptions import InvalidInput, InvalidSignature, SignXMLException

from broadcaster.cap.document import NS, CapRefused

DSIG = "http://www.w3.org/2000/09/xmldsig#"
_EXPECT = SignatureConfiguration(location="./", expect_references=1)


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


def verify(data: bytes, certificates: Sequence[str]) -> bytes:
    """The signed alert (bytes) if `data` is signed by one of `certificates` (PEM texts);
    `CapRefused` otherwise. Call it on a document `document.parse` accepted."""
    root = etree.fromstring(data, _parser())
    if root.find(f"{{{DSIG}}}Signature") is None:
        raise CapRefused("cap: this source's alerts must be signed; this one is not")
    for certificate in certificates:
        try:
            result = XMLVerifier().verify(root, x509_cert=certificate, expect_config=_EXPECT)
        except (InvalidSignature, InvalidInput, SignXMLException, ValueError):
            continue
        if isinstance(result, list):  # one reference expected: several is not ours
            continue
        signed = result.signed_xml
        if signed is None or signed.tag != f"{{{NS}}}alert":
            continue
        return bytes(etree.tostring(signed, xml_declaration=True, encoding="UTF-8"))
    raise CapRefused("cap: the signature does not verify against this source's certificates")
