"""Profile size and the DynamoDB read units a recommendation request spends, with UUID-length ids
(a script, not a test): ``python -m scripts.bench_profile_size``. One user's events are replayed
through the updater's code and the store's codec; the item adds about 200 bytes of keys."""

from __future__ import annotations

import math
import random
import time
import uuid
from typing import Any

from pulse.adapters.codec import encode_state
from pulse.domain.events import parse_event
from pulse.domain.updater import PositionedEvent, ProfileState, apply_user_events, dump_state

USER = "3f1c2a8e-5b7d-4c1e-9a2b-6d8e0f4a1b2c"
KINDS = ["view"] * 6 + ["click", "add_to_cart", "purchase", "rate", "like", "search"]


def event(rng: random.Random, items: list[str], at: float) -> dict[str, Any]:
    kind = rng.choice(KINDS)
    out: dict[str, Any] = {
        "event_id": str(uuid.UUID(int=rng.getrandbits(128))),
        "event_type": kind,
        "user_id": USER,
        "timestamp": at,
        "session_id": str(uuid.UUID(int=rng.getrandbits(128)))[:8],
    }
    if kind == "search":
        return out | {"query": "running shoes"}
    item = {"category": [f"category-{rng.randrange(40)}"], "brand": f"brand-{rng.randrange(200)}", "price": 19.99}
    return out | {"item_id": rng.choice(items), "item": item} | ({"value": 4} if kind == "rate" else {})


def main() -> None:
    rng = random.Random(1)
    items = [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(20_000)]
    start = time.time() - 86400 * 30
    state: ProfileState | None = None
    done = 0
    for target in (100, 1_000, 10_000, 100_000):
        batch = []
        while done < target:
            at = start + done * 20
            batch.append(PositionedEvent(parse_event(event(rng, items, at), now=at + 1)))
            done += 1
        state = apply_user_events(state, USER, batch, start + done * 20, 14).state
        size = len(encode_state(state)) + 200
        units = math.ceil(size / 4096)
        print(
            f"{target:>7,} events: JSON {len(dump_state(state)) / 1024:5.1f} KB, stored {size / 1024:5.1f} KB, "
            f"{units} read units strongly consistent ({units / 2:g} eventually)",
            flush=True,
        )


if __name__ == "__main__":
    main()
