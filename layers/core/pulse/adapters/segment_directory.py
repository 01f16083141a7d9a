"""The segment directory on DynamoDB: audiences as partitions, member counts as sharded counters."""

from typing import Any

from pynamodb.exceptions import UpdateError

from pulse.adapters.tables import (
    COUNT_SHARDS,
    COUNTS_PARTITION,
    SegmentMember,
    bind,
    call,
    count_shard,
    counter,
    counter_key,
)
from pulse.config import Settings
from pulse.domain.segment_rules import StoredSegment
from pulse.domain.segments import catalog
from pulse.ports import MemberPage, Membership, SegmentDefinitions, SegmentDirectory, TransientFailure

DEFINITIONS_PARTITION = "#definitions"  # runtime definitions: range key the segment's name, body the JSON

RECOUNT_ROUNDS = 5


class DynamoSegmentDirectory(SegmentDirectory, SegmentDefinitions):
    def __init__(self, settings: Settings) -> None:
        bind(settings)

    def stored(self) -> list[StoredSegment]:
        def query() -> list[StoredSegment]:
            found = SegmentMember.query(DEFINITIONS_PARTITION, consistent_read=True, page_size=1000)
            return [StoredSegment.model_validate_json(item.body) for item in found if item.body]

        return call(query)

    def put(self, segment: StoredSegment, expected_version: int | None) -> None:
        """The definition's version is kept in ``changes`` for the conditional write."""
        body = segment.model_dump_json()
        item = SegmentMember(DEFINITIONS_PARTITION, segment.name, body=body, changes=segment.version)
        condition: Any = SegmentMember.changes == expected_version
        if expected_version is None:
            condition = SegmentMember.user_id.does_not_exist()
        call(lambda: item.save(condition=condition))  # a lost race is StoreConflict

    def members(self, segment: str, limit: int, start: dict[str, Any] | None) -> MemberPage:
        def query() -> MemberPage:
            result = SegmentMember.query(segment, limit=limit, last_evaluated_key=start, page_size=limit)
            members = [Membership(m.user_id, m.joined_at) for m in result]
            return MemberPage(members=members, last_key=result.last_evaluated_key)

        return call(query)

    def counts(self) -> dict[str, int]:
        def query() -> dict[str, int]:
            totals: dict[str, int] = {}
            for item in SegmentMember.query(COUNTS_PARTITION, page_size=1000):
                key = counter_key(item.user_id)
                if key is not None:
                    totals[key[0]] = totals.get(key[0], 0) + int(item.members or 0)
            return totals

        return call(query)

    def generated_segments(self) -> list[str]:
        def query() -> list[str]:
            return sorted(n for n in self.counts() if catalog().family_of(n) is not None)

        return call(query)

    def recount(self, segment: str) -> int:
        """Set the segment's counters to its exact membership, safe while events flow: a shard whose
        counter changed while the members were read is counted again (no change means no membership
        in that shard changed either, since both change in one transaction)."""

        def shard_changes() -> dict[int, int | None]:
            found: dict[int, int | None] = {}
            for item in SegmentMember.query(
                COUNTS_PARTITION,
                SegmentMember.user_id.startswith(f"{segment}#"),
                consistent_read=True,
            ):
                key = counter_key(item.user_id)
                if key is not None and key[0] == segment:
                    found[key[1]] = None if item.changes is None else int(item.changes)
            return found

        def settle() -> int:
            todo = set(range(COUNT_SHARDS))
            exact: dict[int, int] = {}
            for _ in range(RECOUNT_ROUNDS):
                before = shard_changes()
                members = [0] * COUNT_SHARDS
                for m in SegmentMember.query(segment, consistent_read=True, attributes_to_get=["user_id"]):
                    members[count_shard(m.user_id)] += 1
                for shard in sorted(todo):
                    seen = before.get(shard, -1)
                    if seen == -1 and members[shard] == 0:
                        exact[shard] = 0  # never counted and empty: nothing to write
                        continue
                    unchanged = (
                        SegmentMember.changes.does_not_exist() if seen in (-1, None) else SegmentMember.changes == seen
                    )
                    try:
                        counter(segment, shard).update(
                            actions=[SegmentMember.members.set(members[shard])], condition=unchanged
                        )
                    except UpdateError as exc:
                        if exc.cause_response_code != "ConditionalCheckFailedException":
                            raise
                        continue  # a membership changed while counting: next round
                    exact[shard] = members[shard]
                todo -= set(exact)
                if not todo:
                    return sum(exact.values())
            raise TransientFailure(f"segment {segment} kept changing in shards {sorted(todo)}; run it again")

        return call(settle)
