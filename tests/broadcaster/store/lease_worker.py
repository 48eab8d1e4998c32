"""A process competing for a lease (`python -m tests.broadcaster.store.lease_worker URL OWNER`).

Prints `ready`, waits for a line on stdin, then for about a second takes the lease
`scheduler` when it can (short ttl, random pauses) and prints, as JSON, every
[start, end) span it held it, in epoch microseconds.
"""

from __future__ import annotations

import json
import random
import sys
import time
from datetime import UTC, datetime, timedelta

from broadcaster.store import Store

TTL = timedelta(milliseconds=20)


def main(url: str, owner: str) -> None:
    held: list[tuple[int, int]] = []
    with Store.open(url) as store:
        print("ready", flush=True)
        sys.stdin.readline()
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            now = datetime.now(UTC)
            if store.journal.acquire_lease("scheduler", owner, now, TTL):
                start = int(now.timestamp() * 1e6)
                held.append((start, start + int(TTL / timedelta(microseconds=1))))
                time.sleep(random.uniform(0, 0.03))  # sometimes renews, sometimes lets go
            else:
                time.sleep(random.uniform(0.001, 0.005))
    print(json.dumps(held), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
