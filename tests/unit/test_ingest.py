"""Applying Kinesis batches exactly once (the updater's use case, on in-memory fakes)."""

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from pulse.ports import StoreConflict
from pulse.services.ingest import StreamRecord, process_batch
from tests.fakes import MemoryDeadLetters, MemoryProfileStore, ThrottlingStore

T0 = 1_717_243_200.0
NOW = T0 + 86400
KINDS = ["view", "click", "add_to_cart", "purchase", "like", "dislike", "ad_impression", "ad_click", "rate"]


def event(i: int, user: str, kind: str = "view", event_id: str | None = None) -> dict:
    body = {
        "event_id": event_id or f"e{i}",
        "event_type": kind,
        "user_id": user,
        "timestamp": T0 + i,
        "item_id": f"item{i % 5}",
        "item": {"category": f"c{i % 3}", "brand": "b", "price": 10.0 + i},
    }
    if kind == "rate":
        body["value"] = 1 + i % 5
    return body


def records(payloads: list, shard: str = "shardId-000000000000", first_seq: int = 1) -> list[StreamRecord]:
    out = []
    for n, p in enumerate(payloads):
        data = p if isinstance(p, bytes) else json.dumps(p).encode()
        out.append(StreamRecord(shard, str(first_seq + n), data, partition_key="k", arrival=T0))
    return out


def run(store, batch, letters=None):
    return process_batch(batch, store, letters or MemoryDeadLetters(), half_life_days=14, now=NOW)


def snapshot(store: MemoryProfileStore) -> dict:
    """Profiles without write counters (version / updated_at count deliveries, not events)."""
    out = {}
    for user in store.items:
        view = store.profile(user).public_view()
        view.pop("version"), view.pop("updated_at")
        out[user] = view
    return {"profiles": out, "members": {k: sorted(v) for k, v in store.audiences.items() if v}}


def clean(payloads) -> dict:
    store = MemoryProfileStore()
    run(store, records(payloads))
    return snapshot(store)


def test_mixed_batch_applies_valid_once_and_dead_letters_the_rest() -> None:
    # Given valid events, a malformed record, an oversized one and an invalid one
    payloads = [
        event(1, "a"),
        b"{not json",
        event(2, "b"),
        json.dumps(event(3, "a") | {"pad": "x" * 11000}).encode(),
        event(4, "a", "rate") | {"value": 9},
        event(5, "a", "purchase"),
    ]
    store, letters = MemoryProfileStore(), MemoryDeadLetters()
    # When the batch is processed
    outcome = run(store, records(payloads), letters)
    # Then valid events are applied, the rest dead-lettered with reason and position, nothing retried
    assert outcome.failed == set() and outcome.applied == 3 and outcome.dead_lettered == 3
    assert store.profile("a").behavior.counts == {"view": 1, "purchase": 1}
    assert [x.sequence_number for x in letters.letters] == ["2", "4", "5"]
    assert "not UTF-8 JSON" in letters.letters[0].reason
    assert "limit" in letters.letters[1].reason and "between 1 and 5" in letters.letters[2].reason
    assert letters.letters[0].payload == b"{not json"


def test_one_write_per_user_per_batch() -> None:
    store = MemoryProfileStore()
    outcome = run(store, records([event(i, f"u{i % 4}") for i in range(40)]))
    assert outcome.writes == 4 == store.writes and outcome.users == 4


def test_redelivery_and_producer_duplicates_change_nothing() -> None:
    payloads = [event(i, f"u{i % 3}", KINDS[i % len(KINDS)]) for i in range(30)]
    expected = clean(payloads)
    store = MemoryProfileStore()
    batch = records(payloads)
    run(store, batch)
    again = run(store, batch)  # Lambda re-delivers the same batch
    assert again.applied == 0 and again.skipped == 30 and again.writes == 0
    dupes = records([event(7, "u1", KINDS[7 % len(KINDS)])], first_seq=100)  # same event_id, new record
    assert run(store, dupes).applied == 0
    assert snapshot(store) == expected


def test_throttled_user_fails_from_its_first_record_and_the_retry_is_exact() -> None:
    payloads = [event(i, ["a", "b", "c"][i % 3]) for i in range(9)]  # b's first record is seq 2
    expected = clean(payloads)
    memory = MemoryProfileStore()
    store = ThrottlingStore(memory, user="b", times=1)
    batch = records(payloads)
    outcome = run(store, batch)
    assert outcome.failed == {str(s) for s in range(2, 10)}  # b's first record and everything after it
    assert memory.profile("b") is None and memory.profile("a") is not None
    # Lambda resumes the shard at the lowest failed sequence number
    retry = run(store, [r for r in batch if int(r.sequence_number) >= 2])
    assert retry.failed == set()
    assert snapshot(memory) == expected


def test_dead_letter_queue_outage_retries_from_the_bad_record() -> None:
    outcome = run(MemoryProfileStore(), records([event(1, "a"), b"bad", event(3, "a")]), MemoryDeadLetters(fail=True))
    assert outcome.failed == {"2", "3"}


def test_lost_optimistic_lock_is_re_read_and_re_applied() -> None:
    class RacingStore(MemoryProfileStore):
        raced = False

        def save(self, update, expected_version):
            if not self.raced:
                self.raced = True
                raise StoreConflict("someone else wrote")
            super().save(update, expected_version)

    store = RacingStore()
    outcome = run(store, records([event(1, "a")]))
    assert outcome.failed == set() and outcome.conflicts == 1 and store.profile("a").behavior.counts == {"view": 1}


@st.composite
def deliveries(draw):
    """Events of a few users (with producer duplicates), and how Lambda might deliver them:
    contiguous slices that start at or before what was already delivered (retries, bisection halves)."""
    n = draw(st.integers(1, 25))
    payloads: list[Any] = []
    for i in range(n):
        user = draw(st.sampled_from(["u1", "u2", "u3"]))
        kind = draw(st.sampled_from(KINDS))
        dup_of = draw(st.one_of(st.none(), st.integers(0, i - 1))) if i else None
        payloads.append(payloads[dup_of] if dup_of is not None else event(i, user, kind))
    slices, covered = [], 0
    while covered < n:
        start = draw(st.integers(0, covered))
        end = draw(st.integers(start + 1, n))
        slices.append((start, end))
        covered = max(covered, end)
    return payloads, slices


@settings(max_examples=150, deadline=None)
@given(deliveries())
def test_any_interleaving_of_redeliveries_converges_to_one_clean_delivery(case) -> None:
    payloads, slices = case
    batch = records(payloads)
    store = MemoryProfileStore()
    for start, end in slices:
        run(store, batch[start:end])
    assert snapshot(store) == clean(payloads)


def test_events_that_came_from_a_recommendation_are_counted_once_and_shown_in_the_profile() -> None:
    # Given a click and a purchase that carry the id of the response that led to them, and a plain view
    clicked = event(1, "u1", "click") | {"recommendation_id": "rec-1"}
    bought = event(2, "u1", "purchase") | {"recommendation_id": "rec-1"}
    store = MemoryProfileStore()
    outcome = run(store, records([clicked, bought, event(3, "u1")]))
    assert (outcome.applied, outcome.attributed) == (3, 2)
    # the profile says what the recommendations led to, and which interactions came from which response
    behavior = store.profile("u1").public_view()["behavior"]
    assert behavior["from_recommendations"] == {"click": 1, "purchase": 1}
    assert [x.get("recommendation_id") for x in behavior["recent_interactions"]] == [None, "rec-1", "rec-1"]
    # a re-delivery and a producer duplicate count nothing again
    again = run(store, records([clicked, bought]) + records([clicked], first_seq=9))
    assert (again.applied, again.attributed) == (0, 0)
    assert store.profile("u1").public_view()["behavior"]["from_recommendations"] == {"click": 1, "purchase": 1}


def test_a_deployment_without_impressions_does_not_flag_ad_clickers() -> None:
    clicks = [event(i * 3600, "u1", "ad_click") for i in range(4)]
    tracked, untracked = MemoryProfileStore(), MemoryProfileStore()
    run(tracked, records(clicks))
    process_batch(records(clicks), untracked, MemoryDeadLetters(), 14, now=NOW, impressions_tracked=False)
    assert tracked.profile("u1").risk.flags == ["ad_clicks_without_impressions"]
    assert untracked.profile("u1").risk.flags == []


def test_concurrent_users_give_the_same_profiles_as_one_at_a_time() -> None:
    payloads = [event(i, f"u{i % 17}", KINDS[i % len(KINDS)]) for i in range(300)]
    store = MemoryProfileStore()
    outcome = process_batch(records(payloads), store, MemoryDeadLetters(), half_life_days=14, now=NOW, concurrency=8)
    assert outcome.failed == set() and outcome.users == 17 and outcome.writes == 17 and outcome.applied == 300
    assert snapshot(store) == clean(payloads)


class FlakyStore(MemoryProfileStore):
    """Fails a write transiently at random (seeded), like DynamoDB throttling under load, and takes
    0-2 ms per write, so that concurrent users really overlap (and finish in any order)."""

    def __init__(self, seed: int, rate: float) -> None:
        super().__init__()
        import random

        self.rng, self.rate = random.Random(seed), rate

    def save(self, update, expected_version):
        import time

        from pulse.ports import TransientFailure

        time.sleep(self.rng.random() * 0.002)
        if self.rng.random() < self.rate:
            raise TransientFailure("ProvisionedThroughputExceededException")
        super().save(update, expected_version)


def test_concurrent_users_with_transient_failures_converge_to_one_clean_delivery() -> None:
    # Lambda's contract: re-deliver from the lowest failed sequence number until nothing fails.
    # 4 users over 20 events, 30 % of writes throttled, writes overlapping in time: 80 histories
    import random

    for seed in range(80):
        rng = random.Random(seed)
        payloads = [event(i, rng.choice(["u1", "u2", "u3", "u4"]), rng.choice(KINDS)) for i in range(20)]
        payloads[rng.randrange(1, 20)] = payloads[0]  # a producer duplicate
        batch = records(payloads)
        store = FlakyStore(seed, rate=0.3)
        start = 0
        for _ in range(200):
            outcome = process_batch(batch[start:], store, MemoryDeadLetters(), 14, now=NOW, concurrency=1 + seed % 8)
            if not outcome.failed:
                break
            start = min(int(s) for s in outcome.failed) - 1
        assert not outcome.failed
        assert snapshot(store) == clean(payloads), f"seed {seed}"
