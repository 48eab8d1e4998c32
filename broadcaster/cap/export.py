"""Our urgent announcements as CAP 1.2 alerts (issue 15), valid against the same schema: a
county or provincial platform can take them as we take theirs."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from lxml import etree

from broadcaster.cap.document import NS, Point

_FORBIDDEN = str.maketrans({" ": "_", ",": "_", "<": "_", "&": "_"})


@dataclass(frozen=True, slots=True)
class OutArea:
    """A target area: its name, and its shape where it has one."""

    desc: str
    polygons: tuple[tuple[Point, ...], ...] = ()
    geocodes: tuple[tuple[str, str], ...] = ()
    circles: tuple[tuple[Point, float], ...] = ()  # (centre, radius in km)


@dataclass(frozen=True, slots=True)
class OutAlert:
    identifier: str
    sender: str
    sent: datetime
    text: str
    areas: Sequence[OutArea]
    expires: datetime | None = None
    msg_type: str = "Alert"  # Update, Cancel
    references: Sequence[tuple[str, str, datetime]] = ()
    sender_name: str = ""
    language: str = "zh-CN"
    event: str = "紧急通知"
    category: str = "Safety"
    urgency: str = "Immediate"
    severity: str = "Severe"
    certainty: str = "Observed"


def cap_time(moment: datetime) -> str:
    """CAP's time form: seconds, an explicit offset, never "Z"."""
    if moment.tzinfo is None:
        raise ValueError("CAP times carry their offset")
    return moment.replace(microsecond=0).isoformat()


def cap_identifier(text: str) -> str:
    """An identifier as CAP allows it: no spaces, commas, '<' or '&'."""
    return text.translate(_FORBIDDEN)


def headline(text: str, limit: int = 160) -> str:
    """A short headline: the whole text if it fits, else its first sentence (or its start);
    on import a headline the description contains is not said twice."""
    if len(text) <= limit:
        return text
    first = re.split(r"(?<=[。！？!?])", text, maxsplit=1)[0]
    return first if len(first) <= limit else text[:limit]


def to_xml(alert: OutAlert) -> bytes:
    """The alert as a UTF-8 CAP 1.2 document."""
    root = etree.Element(f"{{{NS}}}alert", nsmap={None: NS})

    def add(parent: etree._Element, name: str, text: str) -> etree._Element:
        element = etree.SubElement(parent, f"{{{NS}}}{name}")
        element.text = text
        return element

    add(root, "identifier", cap_identifier(alert.identifier))
    add(root, "sender", cap_identifier(alert.sender))
    add(root, "sent", cap_time(alert.sent))
    add(root, "status", "Actual")
    add(root, "msgType", alert.msg_type)
    add(root, "scope", "Public")
    if alert.references:
        add(
            root,
            "references",
            " ".join(
                f"{cap_identifier(s)},{cap_identifier(i)},{cap_time(t)}"
                for s, i, t in alert.references
            ),
        )
    info = etree.SubElement(root, f"{{{NS}}}info")
    add(info, "language", alert.language)
    add(info, "category", alert.category)
    add(info, "event", alert.event)
    add(info, "urgency", alert.urgency)
    add(info, "severity", alert.severity)
    add(info, "certainty", alert.certainty)
    if alert.expires is not None:
        add(info, "expires", cap_time(alert.expires))
    if alert.sender_name:
        add(info, "senderName", alert.sender_name)
    add(info, "headline", headline(alert.text))
    add(info, "description", alert.text)
    for area in alert.areas:
        element = etree.SubElement(info, f"{{{NS}}}area")
        add(element, "areaDesc", area.desc)
        for polygon in area.polygons:
            ring = tuple(polygon) if polygon[0] == polygon[-1] else (*polygon, polygon[0])
            add(element, "polygon", " ".join(f"{lat},{lon}" for lat, lon in ring))
        for (lat, lon), radius_km in area.circles:
            add(element, "circle", f"{lat},{lon} {radius_km:g}")
        for name, value in area.geocodes:
            geocode = etree.SubElement(element, f"{{{NS}}}geocode")
            add(geocode, "valueName", name)
            add(geocode, "value", value)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))
