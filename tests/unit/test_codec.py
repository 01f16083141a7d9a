"""The stored form of a profile: what was written before still loads, damage is named, nothing drifts."""

import json
import random
import zlib

import pytest
from pydantic import TypeAdapter

from pulse.adapters.codec import UndecodableState, decode_state, encode_state
from pulse.domain.events import EVENT_TYPES, parse_event
from pulse.domain.updater import PositionedEvent, ProfileState, StreamPosition, apply_user_events, dump_state

T0 = 1_717_243_200.0


def grown_state(events: int = 400, seed: int = 3) -> ProfileState:
    """A profile with every section filled: carts, purchases, traits, queries, ratings, ads, experiments."""
    rng = random.Random(seed)
    kinds = sorted(set(EVENT_TYPES) - {"identify"})
    raw = [
        {
            "event_id": "t",
            "event_type": "identify",
            "user_id": "u",
            "timestamp": T0,
            "traits": {"age": 31, "city": "Lyon", "vip": True, "score": 0.5},
        }
    ]
    for i in range(events):
        kind = rng.choice(kinds)
        event: dict = {"event_id": f"e{i}", "event_type": kind, "user_id": "u", "timestamp": T0 + i * 97.5}
        event["session_id"] = f"s{i // 20}"
        if kind == "search":
            event["query"] = f"query {rng.randrange(50)}"
        else:
            event["item_id"] = f"item-{rng.randrange(300)}"
            event["item"] = {
                "category": [f"cat{rng.randrange(12)}"],
                "brand": f"b{rng.randrange(9)}",
                "price": rng.uniform(1, 600),
            }
        if kind == "rate":
            event["value"] = rng.randint(1, 5)
        if kind == "purchase":
            event["value"] = round(rng.uniform(5, 300), 2)
        raw.append(event)
    items = [PositionedEvent(parse_event(e, now=T0 + 1e6), StreamPosition("s-0", n + 1)) for n, e in enumerate(raw)]
    update = apply_user_events(None, "u", items, now=T0 + 1e6, half_life_days=14)
    update.state.experiments["x1/b"] = [2.0, 1.0, 49.5]
    return update.state


def test_a_grown_profile_round_trips_exactly() -> None:
    state = grown_state()
    assert state.profile.intent.cart and state.profile.behavior.purchased and state.profile.intent.recent_queries
    assert decode_state(encode_state(state)) == state


def test_the_json_is_what_pydantic_wrote_and_reads_back_the_same() -> None:
    # Profiles stored by earlier releases were written by pydantic: the format must not drift.
    state = grown_state(seed=11)
    adapter = TypeAdapter(ProfileState)
    assert json.loads(dump_state(state)) == json.loads(adapter.dump_json(state))  # 14 == 14.0: ints stay ints
    assert decode_state(zlib.compress(adapter.dump_json(state), 6)) == adapter.validate_json(adapter.dump_json(state))


def test_profiles_stored_zlib_compressed_still_load() -> None:
    state = grown_state(events=50)
    assert decode_state(zlib.compress(dump_state(state), 6)) == state
    assert encode_state(state)[:4] == b"\x28\xb5\x2f\xfd"  # written as Zstandard from now on


def test_fields_from_older_versions_are_ignored_and_missing_ones_defaulted() -> None:
    doc = json.loads(dump_state(grown_state(events=20)))
    doc["profile"]["risk"].pop("per_second")
    doc["profile"]["risk"]["minute_counts"] = {"1": 3}
    loaded = decode_state(zlib.compress(json.dumps(doc).encode()))
    assert loaded.profile.risk.per_second == [] and not hasattr(loaded.profile.risk, "minute_counts")


@pytest.mark.parametrize(
    "blob",
    [b"not a profile", b"\x28\xb5\x2f\xfd" + b"\x00" * 12, zlib.compress(b'{"profile": 3}'), zlib.compress(b"[1, 2")],
    ids=["garbage", "broken zstd frame", "wrong shape", "truncated json"],
)
def test_a_damaged_blob_is_named_undecodable(blob: bytes) -> None:
    with pytest.raises(UndecodableState):
        decode_state(blob)


def test_each_write_is_its_own_frame_of_exactly_its_json() -> None:
    # the thread's compressor is reused: every write is still one whole frame of exactly its JSON
    from backports import zstd

    large, small = grown_state(events=300), grown_state(events=5, seed=9)
    for state in (large, small, large):
        assert zstd.decompress(encode_state(state)) == dump_state(state)
    assert decode_state(encode_state(small)) == small
