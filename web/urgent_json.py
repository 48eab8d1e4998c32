"""Urgent announcements as the JSON API shows them (the panel's live parts use it too)."""

from __future__ import annotations

from typing import Any

from broadcaster import urgent
from web.runtime import iso


def coverage_json(target: urgent.TargetCoverage) -> dict[str, Any]:
    """When one target will be heard (`plays_at`), or why not (`reason`)."""
    return {
        "speaker": target.speaker,
        "name": target.name,
        "online": target.online,
        "plays_at": iso(target.plays_at),
        "reason": target.reason,
        "last_seen": iso(target.last_seen),
    }


def state_json(target: urgent.TargetState) -> dict[str, Any]:
    """Where one target is with an urgent, with its acknowledgement times."""
    ack = target.ack
    return {
        "speaker": target.speaker,
        "name": target.name,
        "state": target.state,
        "plays_at": iso(target.plays_at),
        "reason": target.reason,
        "last_seen": iso(target.last_seen),
        "received_at": iso(ack.received_at) if ack else None,
        "playing_at": iso(ack.playing_at) if ack else None,
        "played_at": iso(ack.played_at) if ack else None,
        "cut_at": iso(ack.cut_at) if ack else None,
    }


def summary_text(view: urgent.UrgentView) -> str:
    """'21/23 played, 2 offline': the played share first, then every other state."""
    counts = view.summary()
    total = len(view.targets)
    parts = [f"{counts.get('played', 0)}/{total} played"]
    parts += [f"{n} {state}" for state, n in sorted(counts.items()) if state != "played"]
    return ", ".join(parts)


def urgent_json(view: urgent.UrgentView) -> dict[str, Any]:
    u = view.urgent
    acks = {a.speaker_id: a for a in view.acks}
    body: dict[str, Any] = {
        "id": u.id,
        "state": view.state,
        "text": u.text,
        "message": u.message_id,
        "speakers": list(u.speaker_ids),
        "areas": list(u.area_ids),
        "repeats": u.repeats,
        "interval_s": u.interval_s,
        "override_window": u.override_window,
        "created_at": iso(u.created_at),
        "created_by": u.created_by,
        "expires_at": iso(u.expires_at),
        "cancelled_at": iso(u.cancelled_at),
        "acks": [
            {
                "speaker": speaker_id,
                "received_at": iso(acks[speaker_id].received_at) if speaker_id in acks else None,
                "playing_at": iso(acks[speaker_id].playing_at) if speaker_id in acks else None,
                "played_at": iso(acks[speaker_id].played_at) if speaker_id in acks else None,
                "cut_at": iso(acks[speaker_id].cut_at) if speaker_id in acks else None,
            }
            for speaker_id in view.targets
        ],
    }
    if view.coverage:
        body["targets"] = [state_json(t) for t in view.coverage]
        body["summary"] = view.summary()
        body["summary_text"] = summary_text(view)
    return body
