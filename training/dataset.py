"""The training data: items and every user's interactions as arrays, and profiles replayed from them.

Profiles are built by the profile updater's own code (``apply_user_events``), with the half-life the
deployed functions use (``DECAY_HALF_LIFE_DAYS``, read through ``pulse.config``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from pulse.config import get_settings
from pulse.domain.events import BehaviorEvent
from pulse.domain.profile import UserProfile
from pulse.domain.segments import evaluate as evaluate_segments
from pulse.domain.updater import PositionedEvent, ProfileState, apply_user_events, dump_state, load_state
from training.models import EASE_MAX_ITEMS
from training.table import EventTable, is_interaction


def half_life_days() -> float:
    """The deployed half-life of preferences (one source for training and serving)."""
    return get_settings().decay_half_life_days


@dataclass
class Params:
    method: str = "ease"  # "ease" (whole histories), "slis" (EASE on windows of a history) or "knn"
    ease_lambda: float = 500.0
    neighbors: int = 100
    transition_window: int = 3  # counted transitions (catalogs too large for the regression)
    recency_decay: float = 0.9
    recent_items: int = 20
    transition_items: int = 20  # how many latest items feed the transition feature
    transition_decay: float = 0.9
    slit_lambda: float = 250.0
    trending_half_life_days: float = 7.0

    def label(self) -> str:
        lam = f"λ={self.ease_lambda:g} " if self.method != "knn" else ""
        return f"{self.method} {lam}decay={self.recency_decay} seq={self.transition_items}/{self.transition_decay}"


@dataclass
class Dataset:
    """The items, and every user's interactions as columns grouped by user, in time order."""

    item_ids: list[str]
    index: dict[str, int]
    metadata: list[dict[str, Any]]
    categories: list[list[str]]
    user_ids: list[str]  # the table's user codes
    user_index: dict[str, int]
    row_user: np.ndarray  # int32 user code of each interaction
    items: np.ndarray  # int32 item index of each interaction
    times: np.ndarray  # float64
    ptr: np.ndarray  # int64: user c's interactions are [ptr[c], ptr[c + 1])
    demographic: dict[str, list[str]]  # user -> demographic segments (age bands)
    segment_names: list[str]
    start: float
    end: float
    n_events: int
    table: EventTable
    fits: dict[tuple[Any, ...], tuple[np.ndarray, np.ndarray]] = field(default_factory=dict, repr=False)
    # dense item models (EASE, SLIS, regressed transitions: O(items^3) each) up to this many items,
    # sparse ones (item-kNN, counted transitions) above; the trainer function lowers it to fit 15 minutes
    dense_max_items: int = EASE_MAX_ITEMS

    @property
    def dense(self) -> bool:
        """Whether this run fits dense item models (never above ``EASE_MAX_ITEMS``)."""
        return len(self.item_ids) <= min(EASE_MAX_ITEMS, self.dense_max_items)

    def counts(self) -> np.ndarray:
        return np.diff(self.ptr)

    def seq(self, user: str, drop_last: int = 0) -> list[int]:
        c = self.user_index[user]
        first, last = int(self.ptr[c]), int(self.ptr[c + 1]) - drop_last
        return [int(i) for i in self.items[first : max(first, last)]]

    def kept(self, drop_last: int) -> np.ndarray:
        """Which interactions remain when each user's last ``drop_last`` are held out."""
        position = np.arange(self.items.size) - self.ptr[self.row_user]
        return position < self.counts()[self.row_user] - drop_last

    @cached_property
    def membership(self) -> np.ndarray:
        """(segment, user code) -> is the user in that demographic segment?"""
        out = np.zeros((len(self.segment_names), len(self.user_ids)), dtype=bool)
        rows = {name: r for r, name in enumerate(self.segment_names)}
        for user, segs in self.demographic.items():
            for seg in segs:
                out[rows[seg], self.user_index[user]] = True
        return out


def _demographics(traits: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    """Age-band segments from users' traits, through the profile's own segment rules."""
    out: dict[str, list[str]] = {}
    memo: dict[str, list[str]] = {}
    for user, values in traits.items():
        if not values:
            continue
        key = json.dumps(values, sort_keys=True, default=str)
        if key not in memo:
            probe = UserProfile.new(user, 0.0, half_life_days())
            probe.traits = dict(values)
            memo[key] = [s for s in evaluate_segments(probe) if s.startswith("age_")]
        out[user] = memo[key]
    return out


def build_dataset(table: EventTable, catalog: dict[str, dict[str, Any]] | None = None) -> Dataset:
    meta = dict(table.item_meta)
    for item, info in (catalog or {}).items():
        meta[item] = {**meta.get(item, {}), **info}
    item_ids = sorted(meta)
    index = {item: i for i, item in enumerate(item_ids)}
    categories = []
    for item in item_ids:
        cat = meta[item].get("category")
        categories.append([cat] if isinstance(cat, str) else list(cat or []))
    remap = np.asarray([index[i] for i in table.item_ids] or [0], dtype=np.int32)
    rows = np.flatnonzero(table.positive)
    rows = rows[np.lexsort((table.ref[rows], table.time[rows], table.user[rows]))]
    n_users = len(table.user_ids)
    row_user = table.user[rows]
    ptr = np.zeros(n_users + 1, dtype=np.int64)
    ptr[1:] = np.cumsum(np.bincount(row_user, minlength=n_users))
    demographic = _demographics(table.traits)
    names = sorted({s for segs in demographic.values() for s in segs})
    return Dataset(
        item_ids,
        index,
        [meta[i] for i in item_ids],
        categories,
        list(table.user_ids),
        {u: c for c, u in enumerate(table.user_ids)},
        row_user,
        remap[table.item[rows]],
        table.time[rows],
        ptr,
        demographic,
        names,
        float(table.time.min()) if table.n_events else 0.0,
        float(table.time.max()) if table.n_events else 0.0,
        table.n_events,
        table,
    )


def apply_events(state: ProfileState | None, user: str, events: Sequence[BehaviorEvent]) -> ProfileState:
    update = apply_user_events(
        state,
        user,
        [PositionedEvent(e) for e in events],
        now=events[-1].timestamp if events else 0.0,
        half_life_days=half_life_days(),
    )
    return update.state


def snapshots(data: Dataset, users: Sequence[str]) -> dict[str, dict[str, UserProfile]]:
    """Per user, the profile just before the held-out items: ``rank`` (before the last training item),
    ``val`` (before the validation item) and ``test`` (before the test item). The users' events are
    fetched from the log and replayed through the profile updater's code."""
    out: dict[str, dict[str, UserProfile]] = {}
    for user, evs in data.table.events_of(users).items():
        pos = [p for p, e in enumerate(evs) if is_interaction(e)]
        if len(pos) < 4:
            continue
        cuts = {"rank": pos[-3], "val": pos[-2], "test": pos[-1]}
        state: ProfileState | None = None
        done = 0
        shots: dict[str, UserProfile] = {}
        for name in ("rank", "val", "test"):
            if cuts[name] > done:
                state = apply_events(state, user, evs[done : cuts[name]])
                done = cuts[name]
            assert state is not None
            shots[name] = load_state(dump_state(state)).profile  # a frozen copy
        out[user] = shots
    return dict(sorted(out.items()))
