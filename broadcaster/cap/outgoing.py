"""Our urgent announcements out as CAP 1.2 (issue 15, docs/cap.md "Export"): one alert per
urgent, and an Atom feed of the live ones, each entry linking its alert.

An urgent's areas go out by name, with every geocode the configured table maps to them
(`cap.geocodes`, read backwards: a peer with the same table maps them back to the same
areas) and their polygon where they have one; loudspeakers targeted one by one go out as a
small circle around their location (when they have one). `expires` is the urgent's expiry;
the text is the urgent's text (or its message's). A cancelled urgent goes out as a Cancel
referencing it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from broadcaster.cap.export import OutAlert, OutArea, cap_identifier, cap_time, to_xml
from broadcaster.cap.settings import CapSettings
from broadcaster.models import Area, Urgent

SPEAKER_RADIUS_KM = 0.05
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)  # an empty feed's `updated`
ATOM = "http://www.w3.org/2005/Atom"


def sender(cap: CapSettings, deployment_name: str) -> str:
    return cap.sender or cap_identifier(deployment_name)


def _codes_for(table: Mapping[str, Sequence[str]]) -> dict[str, list[tuple[str, str]]]:
    """Area id -> the (valueName, value) geocodes that name it."""
    found: dict[str, list[tuple[str, str]]] = {}
    for key, area_ids in table.items():
        name, _, value = key.rpartition(":")
        for area_id in area_ids:
            found.setdefault(area_id, []).append((name or "geocode", value))
    return found


def _polygon(area: Area | None) -> tuple[tuple[tuple[float, float], ...], ...]:
    if area is None or not area.polygon:
        return ()
    return (tuple(area.polygon),)


def out_areas(urgent: Urgent, deployment: Any, cap: CapSettings) -> list[OutArea]:
    areas = {a.id: a for a in deployment.areas}
    speakers = {s.id: s for s in deployment.speakers}
    codes = _codes_for(cap.geocodes)
    out = []
    for area_id in urgent.area_ids:
        area = areas.get(area_id)
        out.append(
            OutArea(
                desc=area.name if area else area_id,
                polygons=_polygon(area),
                geocodes=tuple(codes.get(area_id, ())),
            )
        )
    for speaker_id in urgent.speaker_ids:
        speaker = speakers.get(speaker_id)
        where = speaker.location if speaker else None
        circles = () if where is None else ((where, SPEAKER_RADIUS_KM),)
        out.append(OutArea(desc=speaker.name if speaker else speaker_id, circles=circles))
    return out


def text_of(urgent: Urgent, deployment: Any) -> str:
    if urgent.text is not None:
        return urgent.text
    messages = {m.id: m for m in deployment.messages}
    message = messages.get(urgent.message_id or "")
    return message.text if message is not None and message.text else "紧急通知"


def alert_xml(urgent: Urgent, deployment: Any, cap: CapSettings, deployment_name: str,
              zone: Any) -> bytes:  # fmt: skip
    """The urgent as a CAP 1.2 document (a Cancel for a cancelled one)."""
    us = sender(cap, deployment_name)
    sent = urgent.created_at.astimezone(zone)
    cancelled = urgent.cancelled_at is not None
    return to_xml(
        OutAlert(
            identifier=f"{urgent.id}-cancel" if cancelled else urgent.id,
            sender=us,
            sent=(urgent.cancelled_at or urgent.created_at).astimezone(zone),
            text=text_of(urgent, deployment),
            areas=out_areas(urgent, deployment, cap),
            expires=urgent.expires_at.astimezone(zone),
            msg_type="Cancel" if cancelled else "Alert",
            references=[(us, urgent.id, sent)] if cancelled else (),
            sender_name=deployment_name,
            language=cap.language,
        )
    )


def atom_feed(urgents: Sequence[Urgent], deployment: Any, base_url: str, cap: CapSettings,
              deployment_name: str, now: datetime) -> bytes:  # fmt: skip
    """An Atom feed of `urgents`, each entry linking its CAP alert."""
    base = base_url.rstrip("/")
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<feed xmlns="{ATOM}">',
        f"  <id>{escape(base)}/api/v1/cap/feed</id>",
        f"  <title>{escape(deployment_name)}</title>",
        f"  <updated>{cap_time(now)}</updated>",
        f"  <author><name>{escape(deployment_name)}</name></author>",
        f'  <link rel="self" href={quoteattr(base + "/api/v1/cap/feed")}/>',
    ]
    for urgent in urgents:
        href = f"{base}/api/v1/urgent/{urgent.id}.cap"
        text = text_of(urgent, deployment)
        lines += [
            "  <entry>",
            f"    <id>{escape(href)}</id>",
            f"    <title>{escape(text[:80])}</title>",
            f"    <updated>{cap_time(urgent.created_at)}</updated>",
            f"    <summary>{escape(text)}</summary>",
            f'    <link rel="alternate" type="application/cap+xml" href={quoteattr(href)}/>',
            "  </entry>",
        ]
    lines.append("</feed>")
    return ("\n".join(lines) + "\n").encode()
