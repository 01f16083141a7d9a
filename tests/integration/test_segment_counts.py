"""Segment member counts (sharded counters), recounts and `pulse resegment`, on moto."""

import json
from pathlib import Path
from typing import Any

from tests.conftest import AwsStack
from tests.integration.kit import Api, ev, kinesis_event, profile


def _members_by_query(aws_stack: AwsStack) -> dict[str, int]:
    """Every segment's audience, counted the slow way: a scan of the membership items."""
    ddb = aws_stack.client("dynamodb")
    out: dict[str, int] = {}
    for page in ddb.get_paginator("scan").paginate(TableName=aws_stack.env["SEGMENTS_TABLE"]):
        for item in page["Items"]:
            if not item["segment"]["S"].startswith("#"):
                out[item["segment"]["S"]] = out.get(item["segment"]["S"], 0) + 1
    return out


def _listed(api: Api) -> dict[str, int]:
    status, listing = api("GET", "/segments")
    assert status == 200
    found = {s["name"]: s["members"] for s in listing["segments"]}
    found.update({s["name"]: s["members"] for f in listing["families"] for s in f["segments"]})
    return {name: n for name, n in found.items() if n}


def test_segment_counts_follow_joins_leaves_refreshes_and_erasures_exactly(aws_stack, updater) -> None:
    # Given 40 users joining and leaving segments through the updater, the refresher and erasure
    import random

    rng = random.Random(7)
    api = Api(aws_stack)
    kinds = ["view", "add_to_cart", "purchase", "remove_from_cart", "rate"]
    users = [f"c{i:02d}" for i in range(40)]
    seq = 1
    for batch in range(4):
        events = []
        for u in users:
            for j in range(rng.randint(0, 4)):
                kind = rng.choice(kinds)
                extra: dict[str, Any] = {"value": 400.0 if kind == "purchase" else 4}
                if kind not in ("purchase", "rate"):
                    extra = {}
                cat = rng.choice(["Books", "Kids", "Toys"])
                events.append(ev(batch * 20_000 + j * 3000, u, kind, item={"category": cat, "price": 5.0}, **extra))
                events[-1]["event_id"] = f"{u}-{batch}-{j}"
        updater(kinesis_event(events, first_seq=seq))
        seq += len(events)
        # Then after every batch the listed counts equal the audiences, segment by segment
        assert _listed(api) == _members_by_query(aws_stack)
    handler = aws_stack.handler("SegmentRefresherFunction")
    sample = json.loads((Path(__file__).parents[2] / "events/segment_refresher/scheduled_event.json").read_text())
    refreshed = handler(sample, aws_stack.context("SegmentRefresherFunction"))
    assert refreshed["joined"] + refreshed["left"] > 0  # carts abandoned since, fans faded, ...
    assert _listed(api) == _members_by_query(aws_stack)
    for u in users[:10]:
        assert api("DELETE", f"/users/{u}", {"user_id": u})[0] == 204
    assert _listed(api) == _members_by_query(aws_stack)
    assert sum(_listed(api).values()) > 40


def test_a_transaction_that_only_lost_a_race_for_a_counter_is_sent_again(aws_stack, updater, monkeypatch) -> None:
    from pynamodb.connection import Connection
    from pynamodb.exceptions import CancellationReason, TransactWriteError, VerboseClientError

    original = Connection.transact_write_items
    losses = {"left": 2, "calls": 0}

    def contended(self, *args, **kwargs):  # the first two sends lose to another writer's transaction
        losses["calls"] += 1
        if losses["left"] > 0:
            losses["left"] -= 1
            cause = VerboseClientError(
                {"Error": {"Code": "TransactionCanceledException", "Message": "conflict"}},
                "TransactWriteItems",
                cancellation_reasons=[None, CancellationReason(code="TransactionConflict")],
            )
            raise TransactWriteError("Failed to write transaction items", cause=cause)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Connection, "transact_write_items", contended)
    api = Api(aws_stack)
    result = updater(kinesis_event([ev(1, "ray", "purchase", value=2.0)]))
    assert result == {"batchItemFailures": []} and losses["calls"] == 3
    assert "new_users" in profile(api, "ray")[1]["segments"]
    assert _listed(api) == _members_by_query(aws_stack) == {"new_users": 1, "fan:Kids": 1}
    # A transaction that keeps losing is a transient failure: the record is retried by Lambda
    losses["left"] = 99
    failed = updater(kinesis_event([ev(2, "sue", "purchase", value=2.0)], first_seq=5))
    assert len(failed["batchItemFailures"]) == 1
    assert profile(api, "sue")[0] == 404
    assert _listed(api) == _members_by_query(aws_stack)


def test_recount_sets_counters_from_the_audiences_even_while_memberships_change(
    aws_stack, updater, monkeypatch, capsys
) -> None:
    from pulse.adapters import tables as dynamo
    from scripts import resegment

    # Given memberships whose counters drifted (every counter reads 0)
    api = Api(aws_stack)
    updater(
        kinesis_event([ev(j, u, "purchase", value=1.0, item={"category": "Books"}) for u in "abcde" for j in (1, 2)])
    )
    expected = _members_by_query(aws_stack)
    assert expected == {"new_users": 5, "fan:Books": 5}
    ddb = aws_stack.client("dynamodb")
    table = aws_stack.env["SEGMENTS_TABLE"]
    for item in ddb.query(
        TableName=table, KeyConditionExpression="segment = :c", ExpressionAttributeValues={":c": {"S": "#counts"}}
    )["Items"]:
        ddb.update_item(
            TableName=table,
            Key={"segment": item["segment"], "user_id": item["user_id"]},
            UpdateExpression="SET members = :z",
            ExpressionAttributeValues={":z": {"N": "0"}},
        )
    assert not any(_listed(api).values())
    # When the counts are rebuilt while another user joins between the reading of an audience and the
    # writing of its counters (the first time only), into a counter that has members already
    late = next(f"late{i}" for i in range(1000) if dynamo.count_shard(f"late{i}") == dynamo.count_shard("a"))
    original_query = dynamo.SegmentMember.query.__func__  # type: ignore[attr-defined]
    raced: list[bool] = []

    def racing_query(cls, hash_key, *args, **kwargs):
        found = list(original_query(cls, hash_key, *args, **kwargs))
        if hash_key == "new_users" and not raced:
            raced.append(True)
            updater(kinesis_event([ev(5, late, "view", item={"category": "Toys"})], first_seq=50))
        return iter(found)

    monkeypatch.setattr(dynamo.SegmentMember, "query", classmethod(racing_query))
    assert resegment.main(["--recount-only"]) == 0
    assert "recounted" in capsys.readouterr().out and raced
    # Then every count is exact, the late joiner included
    assert _listed(api) == _members_by_query(aws_stack) == {"new_users": 6, "fan:Books": 5}


def test_membership_transactions_reuse_one_client(aws_stack, updater, monkeypatch) -> None:
    # A botocore client costs 60-90 ms of CPU to build; one per transaction made the updater 5x slower
    import botocore.session

    updater(kinesis_event([ev(1, "warm", "purchase", value=2.0)]))
    built = []
    original = botocore.session.Session.create_client

    def counting(self, *args, **kwargs):
        built.append(args[0] if args else kwargs.get("service_name"))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(botocore.session.Session, "create_client", counting)
    # 20 new users, each joining segments: 20 membership transactions
    result = updater(kinesis_event([ev(1, f"new{i}", "purchase", value=2.0) for i in range(20)], first_seq=10))
    assert result == {"batchItemFailures": []} and built == []
    assert _listed(Api(aws_stack))["new_users"] == 21


def _stale_profiles(updater, users: list[str]):
    """Profiles as a release before due times wrote them: no segments, no due time."""
    from pulse.adapters.profile_store import DynamoProfileStore
    from pulse.config import get_settings
    from pulse.domain.updater import ProfileUpdate

    updater(kinesis_event([ev(1, u, "view", item={"brand": "acme", "price": 2.0}) for u in users]))
    store = DynamoProfileStore(get_settings())
    for user in users:
        stored = store.load(user)
        assert stored is not None
        stored.state.due_at, stored.state.profile.segments = None, []
        stored.state.profile.version += 1
        store.save(ProfileUpdate(state=stored.state), expected_version=stored.version)
    return store


def test_resegment_stopped_by_ctrl_c_saves_every_part_and_resumes(aws_stack, updater, monkeypatch, tmp_path) -> None:
    import os
    import signal

    from pulse.adapters.profile_store import DynamoProfileStore
    from scripts import resegment

    users = [f"k{i:02d}" for i in range(30)]
    _stale_profiles(updater, users)
    monkeypatch.setattr(resegment, "CHECKPOINT_EVERY", 1000)  # positions are saved only by the stop
    original_save = DynamoProfileStore.save
    written: list[str] = []
    interrupted: list[bool] = []

    def save(self, update, expected_version):
        written.append(update.state.profile.user_id)
        if len(written) == 4 and not interrupted:
            interrupted.append(True)
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C, as the terminal sends it
        return original_save(self, update, expected_version)

    monkeypatch.setattr(DynamoProfileStore, "save", save)
    state = tmp_path / "state.json"
    assert resegment.main(["--workers", "3", "--state", str(state)]) == 130
    first = list(written)
    assert len(first) < len(users) and state.exists()
    written.clear()
    assert resegment.main(["--state", str(state), "--resume"]) == 0
    assert sorted(first + written) == users  # nothing lost, nothing written twice


def test_resegment_runs_in_parallel_parts_and_continues_where_a_failed_run_stopped(
    aws_stack, updater, monkeypatch, capsys, tmp_path
) -> None:
    from pulse.adapters.profile_store import DynamoProfileStore
    from pulse.ports import TransientFailure
    from scripts import resegment

    # Given 30 profiles as an older release wrote them (no segments, no due time)
    users = [f"r{i:02d}" for i in range(30)]
    store = _stale_profiles(updater, users)
    # When a run in 3 parts meets a write that fails beyond its retries (user r17, once)
    monkeypatch.setattr(resegment, "CHECKPOINT_EVERY", 1)
    original_save = DynamoProfileStore.save
    failing = {"r17": 1}
    written: list[str] = []

    def save(self, update, expected_version):
        user = update.state.profile.user_id
        if failing.get(user):
            failing[user] -= 1
            raise TransientFailure("ProvisionedThroughputExceededException")
        written.append(user)
        return original_save(self, update, expected_version)

    monkeypatch.setattr(DynamoProfileStore, "save", save)
    state = tmp_path / "state.json"
    assert resegment.main(["--workers", "3", "--state", str(state)]) == 1
    assert "again with --resume to continue" in capsys.readouterr().out
    saved = json.loads(state.read_text())
    assert saved["parts"] == 3 and sorted(saved["positions"].values(), key=str).count("done") == 2
    first = list(written)
    assert "r17" not in first and len(first) < len(users)
    # Then resuming it (with another --workers: the saved parts win) finishes only what was left
    written.clear()
    assert resegment.main(["--workers", "5", "--state", str(state), "--resume"]) == 0
    out = capsys.readouterr().out
    assert "resuming" in out and "1 of 3 parts left" in out and "(3 parts)" in out
    assert sorted(first + written) == users  # each profile written once over both runs
    assert not state.exists()
    for user in users:
        stored = store.load(user)
        assert stored is not None and stored.state.profile.segments == ["new_users"] and stored.state.due_at
    assert _listed(Api(aws_stack)) == {"new_users": 30}
