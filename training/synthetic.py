"""A synthetic e-commerce event log for scale and load tests, deterministic from a seed.

Users with traits (age, gender, country) and two or three favourite categories shop in sessions:
they search, view items of their categories (popularity follows a Zipf law), add some to the cart,
remove a few, buy some (``value`` = the item's price), rate or like now and then, and see and click
ads. A small share of users are bots: bursts of ad clicks without impressions at machine speed.
Events are produced in time order, in the contract's format.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

DAY = 86400.0


@dataclass(frozen=True)
class Shape:
    users: int = 10_000
    items: int = 5_000
    events: int = 200_000
    categories: int = 40
    brands: int = 200
    bot_share: float = 0.002
    days: float = 60.0
    start: float = 1_735_689_600.0  # 2025-01-01T00:00:00Z


def _catalog(shape: Shape, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    category = rng.integers(0, shape.categories, shape.items)
    brand = rng.integers(0, shape.brands, shape.items)
    price = np.round(np.exp(rng.normal(3.3, 1.0, shape.items)), 2)
    weight = 1.0 / np.arange(1, shape.items + 1) ** 0.9  # Zipf-like popularity
    return category, brand, price, weight[rng.permutation(shape.items)]


def generate(shape: Shape, seed: int = 0) -> Iterator[dict[str, Any]]:
    """Yield events in time order (users interleave; each user's sessions are in order)."""
    rng = np.random.default_rng(seed)
    category, brand, price, weight = _catalog(shape, rng)
    by_category = [np.flatnonzero(category == c) for c in range(shape.categories)]
    cat_weight = [weight[ix] / weight[ix].sum() if ix.size else ix for ix in by_category]
    per_user = max(1, shape.events // shape.users)
    clock = shape.start
    step = shape.days * DAY / max(1, shape.events)
    produced = 0
    order = rng.permutation(shape.users)
    # every user: an identify, then sessions; users are visited round-robin so time keeps moving forward
    budgets = rng.poisson(per_user, shape.users) + 1
    bots = set(rng.choice(shape.users, max(1, int(shape.users * shape.bot_share)), replace=False).tolist())
    favourites = [rng.choice(shape.categories, rng.integers(2, 4), replace=False) for _ in range(shape.users)]
    identified: set[int] = set()
    carts: dict[int, list[int]] = {}
    session = np.zeros(shape.users, dtype=np.int64)
    active = list(order)
    while active and produced < shape.events:
        still = []
        for u in active:
            if produced >= shape.events:
                break
            uid = f"user-{u}"
            if u not in identified:
                identified.add(u)
                yield {
                    "event_id": f"{seed}-id-{u}",
                    "event_type": "identify",
                    "user_id": uid,
                    "timestamp": clock,
                    "traits": {
                        "age": int(rng.integers(16, 80)),
                        "gender": str(rng.choice(["F", "M", "X"])),
                        "country": str(rng.choice(["DE", "FR", "US", "GB", "ES", "IT"])),
                        "signup_at": clock,
                    },
                }
                produced += 1
                clock += step
                still.append(u)
                continue
            session[u] += 1
            sid = f"{uid}-s{session[u]}"
            length = int(rng.integers(3, 12)) if u not in bots else 40
            for _ in range(min(length, int(budgets[u]))):
                event = (
                    _bot_event(u, rng, shape)
                    if u in bots
                    else _shopper_event(u, rng, favourites[u], by_category, cat_weight, carts)
                )
                item = event.get("item_id")
                if item is not None:
                    i = int(item.split("-")[1])
                    event["item"] = {
                        "category": f"cat-{category[i]}",
                        "brand": f"brand-{brand[i]}",
                        "price": float(price[i]),
                    }
                    if event["event_type"] == "purchase":
                        event["value"] = float(price[i])
                event.update(
                    {"event_id": f"{seed}-{produced}", "user_id": uid, "timestamp": round(clock, 3), "session_id": sid}
                )
                yield event
                produced += 1
                budgets[u] -= 1
                clock += step if u not in bots else step / 50
            if budgets[u] > 0:
                still.append(u)
        active = still


def _shopper_event(
    u: int,
    rng: np.random.Generator,
    fav: np.ndarray,
    by_category: list[np.ndarray],
    cat_weight: list[np.ndarray],
    carts: dict[int, list[int]],
) -> dict[str, Any]:
    roll = rng.random()
    cart = carts.setdefault(u, [])
    if roll < 0.08:
        return {"event_type": "search", "query": f"cat-{int(rng.choice(fav))} deals"}
    if roll < 0.13 and cart:
        return {"event_type": "purchase", "item_id": f"item-{cart.pop()}", "quantity": 1}
    if roll < 0.15 and cart:
        return {"event_type": "remove_from_cart", "item_id": f"item-{cart.pop(0)}"}
    c = int(rng.choice(fav)) if rng.random() < 0.85 else int(rng.integers(0, len(by_category)))
    pool = by_category[c]
    if pool.size == 0:
        return {"event_type": "search", "query": "anything"}
    i = int(rng.choice(pool, p=cat_weight[c]))
    if roll < 0.25:
        cart.append(i)
        return {"event_type": "add_to_cart", "item_id": f"item-{i}", "quantity": 1}
    if roll < 0.28:
        return {"event_type": "rate", "item_id": f"item-{i}", "value": int(rng.integers(1, 6))}
    if roll < 0.30:
        return {"event_type": "like", "item_id": f"item-{i}"}
    if roll < 0.36:
        return {"event_type": "ad_impression", "item_id": f"item-{i}", "campaign_id": "spring"}
    if roll < 0.37:
        return {"event_type": "ad_click", "item_id": f"item-{i}", "campaign_id": "spring"}
    return {"event_type": "view", "item_id": f"item-{i}"}


def _bot_event(u: int, rng: np.random.Generator, shape: Shape) -> dict[str, Any]:
    return {"event_type": "ad_click", "item_id": f"item-{int(rng.integers(0, shape.items))}", "campaign_id": "spring"}


def write(path: Path, shape: Shape, seed: int = 0) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=3) as fh:
        for event in generate(shape, seed):
            fh.write(json.dumps(event, separators=(",", ":")) + "\n")
            count += 1
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write a synthetic e-commerce event log (JSON Lines, gzip).")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--events", type=int, default=Shape.events)
    parser.add_argument("--users", type=int, default=Shape.users)
    parser.add_argument("--items", type=int, default=Shape.items)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    shape = Shape(
        users=args.users, items=args.items, events=args.events, days=max(7.0, math.log10(max(10, args.events)) * 10)
    )
    print(f"wrote {write(args.out, shape, args.seed):,} events to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
