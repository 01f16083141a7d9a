"""Step 7b: activation. A segment defined through the API fills up from the existing profiles (the
refresher's background pass), and a user entering ``cart_abandoners`` reaches a queue subscribed to
the bus the moment the updater writes the profile."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from pulse.domain.events import BehaviorEvent
from scripts.demo.session import Session, say
from scripts.events_tail import pattern, receive, subscription

SETTLE_SECONDS = 2.0  # the demo stack's SegmentDefinitionsRefreshSeconds
SCHEDULE = Path(__file__).parents[2] / "events" / "segment_refresher" / "scheduled_event.json"


def activation(d: Session, sent: list[BehaviorEvent]) -> dict[str, Any]:
    """``sent``: every event the demo streamed (history and the replayed future)."""
    say("7b. activation: a segment defined through the API, and a cart abandoner on the event bus")
    figures: dict[str, Any] = {}
    rule: dict[str, Any] = {
        "rule": [{"feature": "occupation", "op": "==", "value": "student"}],
        "description": "Students",
    }
    answer = d.http.put(f"{d.api}/segments/students", json=rule, timeout=30)
    answer.raise_for_status()
    stored = answer.json()
    say(f"   PUT /segments/students -> version {stored['version']}, evaluation {stored['evaluation']['status']}")
    time.sleep(SETTLE_SECONDS + 0.5)  # every function has read the definition by then
    started = time.perf_counter()
    run = d.stack.workers["SegmentRefresherFunction"].invoke(json.loads(SCHEDULE.read_text()))
    described = d.http.get(f"{d.api}/segments/students", timeout=30).json()
    expected = len(
        {
            e.user_id
            for e in sent
            if e.event_type == "identify" and e.traits and e.traits.as_dict().get("occupation") == "student"
        }
    )
    figures["segment"] = {
        "members": described["member_count"],
        "expected": expected,
        "scanned": described["evaluation"]["scanned"],
        "seconds": round(time.perf_counter() - started, 1),
        "status": described["evaluation"]["status"],
    }
    say(
        f"   the refresher's background pass evaluated {run['definitions_evaluated']} profiles in "
        f"{figures['segment']['seconds']} s: students has {described['member_count']} members "
        f"({expected} students streamed; risk-flagged ones stay out), evaluation {described['evaluation']['status']}"
    )
    outputs = d.stack.outputs()
    events, sqs = d.stack.client("events"), d.stack.client("sqs")
    user, t0 = "shopper-demo", max(e.timestamp for e in sent)
    with subscription(events, sqs, outputs["EventBusName"], pattern(segment="cart_abandoners"), False) as url:
        cart = {"event_id": "demo-cart", "event_type": "add_to_cart", "user_id": user, "timestamp": t0, "item_id": "50"}
        d.put([BehaviorEvent.model_validate(cart)])
        d.wait_applied(user)
        later = cart | {"event_id": "demo-view", "event_type": "view", "timestamp": t0 + 7200, "item_id": "181"}
        put_at = d.put([BehaviorEvent.model_validate(later)])
        arrived: list[dict[str, Any]] = []
        while not arrived and time.perf_counter() - put_at < 30:
            arrived = receive(sqs, url)
        took = time.perf_counter() - put_at
    if arrived:
        detail = arrived[0]["detail"]
        figures["cart_abandoner"] = {"ms": round(took * 1000), "detail": detail}
        say(
            f"   {user} left a cart for two hours: {detail['segment']} {detail['change']} arrived {took * 1000:.0f} ms "
            f"after PutRecords, decided by {detail['features']}"
        )
    else:
        figures["cart_abandoner"] = {"ms": None}
        say("   no cart_abandoners event arrived within 30 s")
    d.figures["activation"] = figures
    return figures
