"""Benchmark: plan one day for 10,000 speakers on one core (goal: under 2 s).

Run: .venv/bin/python benchmarks/bench_planning.py

Deployment: one district, 25 townships, 500 villages, 20 speakers per village. A district-wide
program plays 07:00-19:00; 300 villages add their own program in a village window at a higher
priority; three urgent announcements reach a few speakers and one village. Programs have 8
messages of 15-60 s with a 5 s gap. A second run gives every speaker its own schedule, so no
timeline can be shared: that figure is the honest worst case.
"""

from __future__ import annotations

import random
import sys
import time as clock
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from broadcaster.models import (
    Area,
    AreaKind,
    ClipRef,
    Program,
    Schedule,
    Speaker,
    SpeakerKind,
    Urgent,
)
from broadcaster.planning import plan_many

ZONE = ZoneInfo("Asia/Shanghai")
DAY = datetime(2026, 6, 1, tzinfo=ZONE)
SPEAKERS_PER_VILLAGE = 20
VILLAGES = 500
TOWNSHIPS = 25


def deployment(distinct: bool, seed: int = 7) -> dict[str, object]:
    rng = random.Random(seed)
    areas = {"d": Area("d", "District", AreaKind.DISTRICT)}
    for t in range(TOWNSHIPS):
        areas[f"t{t}"] = Area(f"t{t}", f"Township {t}", AreaKind.TOWNSHIP, "d")
    for v in range(VILLAGES):
        areas[f"v{v}"] = Area(f"v{v}", f"Village {v}", AreaKind.VILLAGE, f"t{v % TOWNSHIPS}")
    speakers = [
        Speaker(f"s{v}-{k}", f"Speaker {v}-{k}", SpeakerKind.FIXED, f"v{v}")
        for v in range(VILLAGES)
        for k in range(SPEAKERS_PER_VILLAGE)
    ]
    clips: dict[str, ClipRef] = {}
    programs: dict[str, Program] = {}
    for p in range(51):
        ids = tuple(f"m{p}-{i}" for i in range(8))
        for mid in ids:
            clips[mid] = ClipRef(f"hash-{mid}", rng.randint(15_000, 60_000))
        programs[f"p{p}"] = Program(f"p{p}", f"Program {p}", ids, gap_s=5)
    schedules = [Schedule("district", "p0", area_ids=("d",), start=time(7), end=time(19))]
    if distinct:
        for i, s in enumerate(speakers):
            begin = time(8 + i % 8, (i * 7) % 60)
            schedules.append(
                Schedule(
                    f"own-{s.id}",
                    f"p{1 + i % 50}",
                    speaker_ids=(s.id,),
                    start=begin,
                    end=time(begin.hour + 3, begin.minute),
                    priority=1,
                )
            )
    else:
        for v in range(300):
            begin = time(rng.choice([9, 10, 12, 15]), rng.choice([0, 30]))
            schedules.append(
                Schedule(
                    f"village-{v}",
                    f"p{1 + v % 50}",
                    area_ids=(f"v{v}",),
                    start=begin,
                    end=time(begin.hour + 2, begin.minute),
                    priority=1,
                )
            )
    sent = DAY + timedelta(hours=10)
    urgents = [
        (
            Urgent(
                f"u{n}",
                created_at=sent + timedelta(minutes=n),
                starts_at=sent + timedelta(minutes=n),
                expires_at=sent + timedelta(hours=2),
                text="Flood warning",
                speaker_ids=targets,
                area_ids=village,
                repeats=3,
                interval_s=120,
            ),
            ClipRef(f"urgent-{n}", 25_000),
        )
        for n, (targets, village) in enumerate(
            [(("s1-0", "s2-0"), ()), (("s3-1",), ()), ((), ("v4",))]
        )
    ]
    return {
        "speakers": speakers,
        "schedules": schedules,
        "programs": programs,
        "clips": clips,
        "urgents": urgents,
        "areas": areas,
    }


def run(label: str, distinct: bool) -> None:
    d = deployment(distinct)
    began = clock.perf_counter()
    plans = plan_many(
        d["speakers"],  # type: ignore[arg-type]
        schedules=d["schedules"],  # type: ignore[arg-type]
        programs=d["programs"],  # type: ignore[arg-type]
        clips=d["clips"],  # type: ignore[arg-type]
        urgents=d["urgents"],  # type: ignore[arg-type]
        areas=d["areas"],  # type: ignore[arg-type]
        zone=ZONE,
        start=DAY,
        end=DAY + timedelta(days=1),
        now=DAY + timedelta(hours=12),
        selftest=ClipRef("selftest", 4_000),
    )
    took = clock.perf_counter() - began
    distinct_timelines = len({id(items) for items in plans.values()})
    items = sum(len(items) for items in plans.values())
    print(
        f"{label}: {len(plans):,} speakers, {distinct_timelines:,} distinct timelines, "
        f"{items:,} items in {took:.2f} s ({took / len(plans) * 1e6:.0f} us/speaker)"
    )


if __name__ == "__main__":
    run("realistic (villages + district)", distinct=False)
    run("worst case (every speaker its own schedule)", distinct=True)
