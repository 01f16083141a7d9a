"""Activation: one event per membership or risk transition, whatever the stream and EventBridge do.

The same events go through a clean run and through a faulty one (Lambda re-delivering the shard,
bisection re-sending a half, producers sending events twice, EventBridge throttling the first
publications); the transitions published must be the same, each once."""

from collections import Counter
from typing import Any

from pulse.services.activation import Activation, sweep
from pulse.services.ingest import process_batch
from tests.fakes import MemoryDeadLetters, MemoryProfileStore
from tests.fakes_experiments import FakeBus, MemoryOutbox
from tests.unit.test_ingest import NOW, T0, records

HOUR = 3600.0


def phases() -> list[list[dict[str, Any]]]:
    """Three batches: carts filled (and a bot clicking ads), then carts left for two hours, then half
    of the shoppers buying. Memberships change between writes, so each phase is its own batch."""
    out: list[list[dict[str, Any]]] = [[], [], []]
    count = 0

    def add(phase: int, user: str, kind: str, at: float, **extra: Any) -> None:
        nonlocal count
        count += 1
        event = {"event_id": f"{user}-{count}", "event_type": kind, "user_id": user, "timestamp": T0 + at}
        out[phase].append(event | extra)

    for n in range(6):
        user = f"shopper{n}"
        add(0, user, "add_to_cart", 0, item_id=f"i{n}", item={"price": 5.0})
        add(1, user, "view", 2 * HOUR, item_id="i9")  # the cart untouched for 2 hours: cart_abandoners
        if n % 2:
            add(2, user, "purchase", 3 * HOUR, item_id=f"i{n}", value=5.0)  # bought it: leaves the segment
    for k in range(4):
        add(0, "bot", "ad_click", 10 + k, item_id=f"ad{k}")  # clicks without impressions: risk raised
    return out


def batches() -> list[list[Any]]:
    """The phases as Kinesis batches of one shard, sequence numbers running on."""
    out, seq = [], 1
    for phase in phases():
        out.append(records(phase, first_seq=seq))
        seq += len(phase)
    return out


def events() -> list[dict[str, Any]]:
    return [e for phase in phases() for e in phase]


def run(deliveries: list[list[Any]], bus: FakeBus) -> tuple[MemoryProfileStore, Activation]:
    profiles = MemoryProfileStore(clock=lambda: NOW)
    activation = Activation(bus, MemoryOutbox(profiles), MemoryDeadLetters())  # type: ignore[arg-type]
    for batch in deliveries:
        process_batch(batch, profiles, activation.dead_letters, half_life_days=14, now=NOW, activation=activation)
    return profiles, activation


def transitions(bus: FakeBus) -> Counter[tuple[str, str, str]]:
    return Counter((n.detail["user_id"], n.detail.get("segment", "risk"), n.detail["change"]) for n in bus.published)


def test_each_transition_is_published_once_through_redelivery_bisection_duplicates_and_throttling() -> None:
    clean_bus = FakeBus()
    run(batches(), clean_bus)
    expected = transitions(clean_bus)
    assert expected[("shopper0", "cart_abandoners", "enter")] == 1
    assert expected[("shopper1", "cart_abandoners", "exit")] == 1
    assert expected[("bot", "risk", "raised")] == 1
    assert all(count == 1 for count in expected.values())

    faulty = []
    for batch in batches():
        half = len(batch) // 2
        faulty += [batch[:half], batch, batch[half:], batch]  # applied, re-delivered, bisected, replayed
    payloads = events()
    faulty.append(records([payloads[3], payloads[-1]], first_seq=900))  # producers sent two events again
    bus = FakeBus(throttled=2)  # the first two publications are throttled: left in the outbox
    profiles, activation = run(faulty, bus)
    assert profiles.outbox  # what was throttled waits in the outbox
    assert sweep(activation, NOW, older_than=0).published > 0
    assert not profiles.outbox
    assert transitions(bus) == expected  # the same transitions, each once
    assert sweep(activation, NOW, older_than=0).published == 0  # nothing is ever sent twice


def test_a_notice_eventbridge_refuses_for_good_goes_to_the_dead_letters() -> None:
    bus = FakeBus(malformed={"cart_abandoners"})
    profiles, activation = run(batches(), bus)
    letters = activation.dead_letters.letters  # type: ignore[attr-defined]
    assert letters and all("MalformedDetail" in letter.reason for letter in letters)
    assert not profiles.outbox  # refused for good: not retried for ever


def test_membership_events_say_what_decided_them() -> None:
    bus = FakeBus()
    run(batches(), bus)
    entered = next(
        n for n in bus.published if n.detail.get("change") == "enter" and n.detail["segment"] == "cart_abandoners"
    )
    assert entered.detail_type == "segment.membership"
    assert (
        entered.detail["features"]["cart_items"] == 1 and entered.detail["features"]["hours_since_cart_activity"] >= 1
    )
    assert entered.detail["definition_version"] == 0 and entered.detail["at"].endswith("Z")
    raised = next(n for n in bus.published if n.detail_type == "risk.changed")
    assert raised.detail["flags"] == ["ad_clicks_without_impressions"] and raised.detail["score"] > 0


def test_a_refused_notice_stays_in_the_outbox_while_the_dead_letter_queue_refuses_it_too() -> None:
    bus = FakeBus(malformed={"cart_abandoners"})
    profiles = MemoryProfileStore(clock=lambda: NOW)
    activation = Activation(bus, MemoryOutbox(profiles), MemoryDeadLetters(fail=True))  # type: ignore[arg-type]
    for batch in batches():
        process_batch(batch, profiles, MemoryDeadLetters(), half_life_days=14, now=NOW, activation=activation)
    waiting = [p.notice.detail.get("segment") for p in profiles.outbox.values()]
    assert waiting and set(waiting) == {"cart_abandoners"}
