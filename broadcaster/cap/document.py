"""CAP 1.2 documents in: refused safely, validated against the schema, read into typed values.

Every document is untrusted input from another system. In order, each step refusing with a
`CapRefused` that names the problem:

1. size: at most `MAX_BYTES` (a real alert is a few kB; a feed entry at most tens);
2. DTDs and entities: refused outright by defusedxml before anything expands them (no
   external entities, no entity-expansion bombs; CAP never needs a DTD);
3. lxml parses with entities, network access and huge trees off;
4. the root must be `alert` in the CAP 1.2 namespace, and the document valid against the
   schema written from the specification (`cap-1.2.xsd`);
5. what the schema cannot say: polygons closed with at least four points in range, circles
   with a centre in range and a radius, references as `sender,identifier,sent` triples.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import defusedxml.ElementTree as safe_et
from defusedxml import DefusedXmlException
from lxml import etree

from broadcaster.errors import ValidationError

NS = "urn:oasis:names:tc:emergency:cap:1.2"
MAX_BYTES = 512 * 1024
SCHEMA = Path(__file__).with_name("cap-1.2.xsd")

Point = tuple[float, float]


class CapRefused(ValidationError):
    """A CAP document that is not accepted, and why (HTTP 422; stored nowhere but the audit)."""


@dataclass(frozen=True, slots=True)
class Circle:
    lat: float
    lon: float
    radius_km: float


@dataclass(frozen=True, slots=True)
class Area:
    desc: str
    polygons: tuple[tuple[Point, ...], ...] = ()
    circles: tuple[Circle, ...] = ()
    geocodes: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Info:
    language: str
    categories: tuple[str, ...]
    event: str
    urgency: str
    severity: str
    certainty: str
    effective: datetime | None = None
    onset: datetime | None = None
    expires: datetime | None = None
    sender_name: str = ""
    headline: str = ""
    description: str = ""
    instruction: str = ""
    areas: tuple[Area, ...] = ()


@dataclass(frozen=True, slots=True)
class Reference:
    sender: str
    identifier: str
    sent: datetime


@dataclass(frozen=True, slots=True)
class Alert:
    identifier: str
    sender: str
    sent: datetime
    status: str
    msg_type: str
    scope: str
    references: tuple[Reference, ...] = ()
    infos: tuple[Info, ...] = ()
    signed: bool = False  # an XML-DSig Signature element is present (checked elsewhere)


@functools.cache
def _schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SCHEMA)))


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        load_dtd=False,
        dtd_validation=False,
    )


def parse(data: bytes) -> Alert:
    """The alert in `data` (UTF-8 XML), or `CapRefused` naming what is wrong."""
    if len(data) > MAX_BYTES:
        raise CapRefused(f"cap: the document is {len(data)} bytes; at most {MAX_BYTES}")
    try:
        safe_et.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise CapRefused(
            f"cap: refused: {type(exc).__name__} (DTDs and entities are not allowed)"
        ) from None
    except safe_et.ParseError as exc:
        raise CapRefused(f"cap: not well-formed XML ({exc})") from None
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        raise CapRefused(f"cap: not well-formed XML ({exc})") from None
    if root.tag != f"{{{NS}}}alert":
        raise CapRefused(f"cap: the root element is {root.tag}, expected alert in {NS}")
    schema = _schema()
    if not schema.validate(root):
        first = schema.error_log.filter_from_errors()[0]
        raise CapRefused(f"cap: invalid against CAP 1.2, line {first.line}: {first.message}")
    return _alert(root)


def _text(element: etree._Element, name: str) -> str:
    found = element.find(f"{{{NS}}}{name}")
    return (found.text or "").strip() if found is not None else ""


def _texts(element: etree._Element, name: str) -> list[str]:
    return [(e.text or "").strip() for e in element.findall(f"{{{NS}}}{name}")]


def _time(value: str, where: str) -> datetime:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise CapRefused(f"cap: {where}: not a time: {value!r}") from None


def _optional_time(element: etree._Element, name: str) -> datetime | None:
    value = _text(element, name)
    return _time(value, name) if value else None


def _alert(root: etree._Element) -> Alert:
    return Alert(
        identifier=_text(root, "identifier"),
        sender=_text(root, "sender"),
        sent=_time(_text(root, "sent"), "sent"),
        status=_text(root, "status"),
        msg_type=_text(root, "msgType"),
        scope=_text(root, "scope"),
        references=_references(_text(root, "references")),
        infos=tuple(_info(i, n) for n, i in enumerate(root.findall(f"{{{NS}}}info"))),
        signed=root.find("{http://www.w3.org/2000/09/xmldsig#}Signature") is not None,
    )


def _references(text: str) -> tuple[Reference, ...]:
    out = []
    for triple in text.split():
        parts = triple.split(",")
        if len(parts) != 3:
            raise CapRefused(f"cap: references: expected sender,identifier,sent, got {triple!r}")
        out.append(Reference(parts[0], parts[1], _time(parts[2], "references")))
    return tuple(out)


def _info(element: etree._Element, n: int) -> Info:
    where = f"info[{n}]"
    return Info(
        language=_text(element, "language") or "en-US",
        categories=tuple(_texts(element, "category")),
        event=_text(element, "event"),
        urgency=_text(element, "urgency"),
        severity=_text(element, "severity"),
        certainty=_text(element, "certainty"),
        effective=_optional_time(element, "effective"),
        onset=_optional_time(element, "onset"),
        expires=_optional_time(element, "expires"),
        sender_name=_text(element, "senderName"),
        headline=_text(element, "headline"),
        description=_text(element, "description"),
        instruction=_text(element, "instruction"),
        areas=tuple(
            _area(a, f"{where}.area[{k}]") for k, a in enumerate(element.findall(f"{{{NS}}}area"))
        ),
    )


def _area(element: etree._Element, where: str) -> Area:
    geocodes = tuple(
        (_text(g, "valueName"), _text(g, "value")) for g in element.findall(f"{{{NS}}}geocode")
    )
    return Area(
        desc=_text(element, "areaDesc"),
        polygons=tuple(_polygon(p, f"{where}.polygon") for p in _texts(element, "polygon")),
        circles=tuple(_circle(c, f"{where}.circle") for c in _texts(element, "circle")),
        geocodes=geocodes,
    )


def _pair(text: str, where: str) -> Point:
    try:
        lat_text, lon_text = text.split(",")
        lat, lon = float(lat_text), float(lon_text)
    except ValueError:
        raise CapRefused(f"cap: {where}: expected lat,lon, got {text!r}") from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise CapRefused(f"cap: {where}: {text!r} is out of range")
    return lat, lon


def _polygon(text: str, where: str) -> tuple[Point, ...]:
    points = tuple(_pair(p, where) for p in text.split())
    if len(points) < 4 or points[0] != points[-1]:
        raise CapRefused(f"cap: {where}: at least four points, the first repeated last")
    return points


def _circle(text: str, where: str) -> Circle:
    try:
        centre, radius_text = text.split()
        radius = float(radius_text)
    except ValueError:
        raise CapRefused(f"cap: {where}: expected 'lat,lon radius_km', got {text!r}") from None
    if not 0 <= radius <= 20_000:
        raise CapRefused(f"cap: {where}: radius {radius_text} km is out of range")
    lat, lon = _pair(centre, where)
    return Circle(lat, lon, radius)
