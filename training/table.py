"""A columnar event log for training: a few numpy arrays instead of one object per event.

Ten million events as ``BehaviorEvent`` objects take tens of gigabytes; as columns (user code, item
code, interaction flag, time, and where the event came from) they take about 25 bytes each. Full event
objects are fetched again, from where they came from, only for the users whose profiles the evaluation
replays through the profile updater's code.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from pulse.domain.events import BehaviorEvent

# what counts as an interaction with an item, for the item models and the held-out targets
POSITIVE = frozenset({"view", "click", "add_to_cart", "purchase", "rate", "like"})


def is_interaction(event: BehaviorEvent) -> bool:
    """An interaction with an item: what the item models learn from and what evaluation asks about."""
    return event.item_id is not None and event.event_type in POSITIVE


class EventSource(Protocol):
    def fetch(self, refs: Iterable[int]) -> dict[int, BehaviorEvent]:
        """The events at these references (list positions or line numbers)."""
        ...


@dataclass
class ListSource:
    events: Sequence[BehaviorEvent]

    def fetch(self, refs: Iterable[int]) -> dict[int, BehaviorEvent]:
        return {int(r): self.events[int(r)] for r in refs}


@dataclass
class EventTable:
    """One row per valid event; codes index ``user_ids`` / ``item_ids`` (-1: the event has no item)."""

    user_ids: list[str]
    item_ids: list[str]
    user: np.ndarray  # int32
    item: np.ndarray  # int32
    positive: np.ndarray  # bool: an interaction (POSITIVE) with an item
    time: np.ndarray  # float64
    ref: np.ndarray  # int64: where the event is in its source
    item_meta: dict[str, dict[str, Any]]  # the latest ``item`` object seen per item
    traits: dict[str, dict[str, Any]]  # merged traits per user
    source: EventSource

    @property
    def n_events(self) -> int:
        return int(self.user.size)

    def events_of(self, users: Iterable[str]) -> dict[str, list[BehaviorEvent]]:
        """Every event of these users, fetched from the source, in time order (ties in log order)."""
        wanted_ids = set(users)
        lookup = {u: c for c, u in enumerate(self.user_ids) if u in wanted_ids}
        wanted = np.isin(self.user, np.fromiter(lookup.values(), dtype=np.int32, count=len(lookup)))
        rows = np.flatnonzero(wanted)
        rows = rows[np.lexsort((self.ref[rows], self.time[rows]))]
        fetched = self.source.fetch(self.ref[rows].tolist())
        out: dict[str, list[BehaviorEvent]] = {u: [] for u in lookup}
        for r in rows:
            event = fetched[int(self.ref[r])]
            out[event.user_id].append(event)
        return out


@dataclass
class TableBuilder:
    """Accumulates events into columns; ``build`` freezes them into an :class:`EventTable`."""

    _users: dict[str, int] = field(default_factory=dict)
    _items: dict[str, int] = field(default_factory=dict)
    _user: array[int] = field(default_factory=lambda: array("i"))
    _item: array[int] = field(default_factory=lambda: array("i"))
    _positive: array[int] = field(default_factory=lambda: array("b"))
    _time: array[float] = field(default_factory=lambda: array("d"))
    _ref: array[int] = field(default_factory=lambda: array("q"))
    _meta: dict[str, Any] = field(default_factory=dict)
    _traits: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add(self, event: BehaviorEvent, ref: int) -> None:
        users, items = self._users, self._items
        user = users.setdefault(event.user_id, len(users))
        item = -1
        if event.item_id is not None:
            item = items.setdefault(event.item_id, len(items))
            if event.item is not None or event.item_id not in self._meta:
                self._meta[event.item_id] = event.item  # dumped once, in build()
        self._user.append(user)
        self._item.append(item)
        self._positive.append(is_interaction(event))
        self._time.append(event.timestamp)
        self._ref.append(ref)
        if event.traits is not None:
            self._traits.setdefault(event.user_id, {}).update(event.traits.as_dict())

    def build(self, source: EventSource) -> EventTable:
        meta = {item: obj.model_dump(exclude_none=True) if obj else {} for item, obj in self._meta.items()}
        return EventTable(
            user_ids=list(self._users),
            item_ids=list(self._items),
            user=np.frombuffer(self._user, dtype=np.int32).copy(),
            item=np.frombuffer(self._item, dtype=np.int32).copy(),
            positive=np.frombuffer(self._positive, dtype=np.int8).astype(bool),
            time=np.frombuffer(self._time, dtype=np.float64).copy(),
            ref=np.frombuffer(self._ref, dtype=np.int64).copy(),
            item_meta=meta,
            traits=self._traits,
            source=source,
        )


def table_from_events(events: Sequence[BehaviorEvent]) -> EventTable:
    builder = TableBuilder()
    for position, event in enumerate(events):
        builder.add(event, position)
    return builder.build(ListSource(events))
