"""Answers from the live catalogue and live popularity: before any model, and for items newer than it.

- Without a model, a page is the held catalogue items plus the window's popular items, ranked by
  ``LIVE_MIX`` of content match (the profile's affinities and session intent) and popularity.
- With a model, catalogue items it does not know (new arrivals) take at most ``NEW_ITEM_SHARE`` of a
  page, spread over it, when they match the profile or are popular now; their reasons say so.
- ``/items/{id}/similar`` for an item only the catalogue knows: items sharing its categories and brand.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from pulse.domain.profile import UserProfile
from pulse.recommend.artifacts import RecModel
from pulse.recommend.content import WEIGHTS, LiveItems, Tastes, tastes
from pulse.recommend.scorer import Recommendation, significant
from pulse.services.catalog_view import CatalogView

LIVE_MIX = 0.6  # content's share of a live score; popularity has the rest
MAX_CONTENT = sum(WEIGHTS.values())
MODEL_NEIGHBOURS = 500  # model items of the same category a catalogue-only item is compared with


@dataclass(frozen=True)
class LiveContext:
    """What a live answer reads: the catalogue copy, the window's popularity, the user."""

    view: CatalogView
    popularity: dict[str, float]
    window: str
    profile: UserProfile | None = None
    now: float = field(default_factory=time.time)  # the request's time: the session's intent fades

    @property
    def tastes(self) -> Tastes:
        return tastes(self.profile, self.now)

    @cached_property
    def pop_scale(self) -> float:
        """What divides log-popularity so the window's most popular item scores 1."""
        return math.log1p(max(self.popularity.values(), default=0.0)) or 1.0


def _seen(profile: UserProfile | None) -> set[str]:
    if profile is None:
        return set()
    return set(profile.behavior.interacted) | set(profile.behavior.purchased)


def _mix(t: Tastes) -> float:
    """Content's share of a live score: none for a stranger, who is scored by popularity alone."""
    return LIVE_MIX if not t.empty else 0.0


def _scores(live: LiveItems, ctx: LiveContext, t: Tastes) -> tuple[np.ndarray, np.ndarray]:
    """(live score, content score) of every live item, as vectors."""
    content = live.scores(t) / MAX_CONTENT if not t.empty else np.zeros(len(live))
    weights, _ = live.weights(ctx.popularity)
    pop = np.log1p(weights) / ctx.pop_scale
    mix = _mix(t)
    return mix * content + (1 - mix) * pop, content


def _reason(live: LiveItems, pos: int, content: float, ctx: LiveContext, t: Tastes, new: bool) -> str:
    if content > 0:
        return live.reason(pos, t, new)
    if ctx.popularity.get(live.items[pos].item_id, 0.0) > 0:
        return f"{'new and ' if new else ''}popular in the last {ctx.window}"
    return "new in the catalogue" if new else "in the catalogue"


def _recommendation(
    live: LiveItems, pos: int, ctx: LiveContext, t: Tastes, scores: tuple[np.ndarray, np.ndarray], new: bool
) -> Recommendation:
    scored, content = scores
    reason = _reason(live, pos, float(content[pos]), ctx, t, new)
    item = live.items[pos]
    return Recommendation(item.item_id, significant(float(scored[pos])), [reason], item.metadata())


def live_page(ctx: LiveContext, k: int, exclude: Iterable[str], category: str | None) -> list[Recommendation]:
    """A page without a model: catalogue items and today's popular items, by content and popularity.
    Its cost follows the page: the scores are vectors, only the ``k`` best become answers."""
    live, t = ctx.view.unknown_to(None), ctx.tastes
    skip = _seen(ctx.profile) | set(exclude) | ctx.view.blocked
    scores = _scores(live, ctx, t)
    rows: list[tuple[float, float, str, Recommendation]] = []
    for pos in live.best(scores[0], live.mask(skip, category), k):
        rec = _recommendation(live, int(pos), ctx, t, scores, new=False)
        rows.append((float(scores[0][pos]), float(live.created_at[pos]), rec.item_id, rec))
    if category is None:  # popular items the catalogue copy does not hold (their categories unknown)
        _, outside = live.weights(ctx.popularity)
        for item_id, weight in (iw for iw in outside if iw[0] not in skip):
            if len(rows) >= 2 * k:
                break
            score = (1 - _mix(t)) * math.log1p(weight) / ctx.pop_scale
            rec = Recommendation(item_id, significant(score), [f"popular in the last {ctx.window}"])
            rows.append((score, 0.0, item_id, rec))
    rows.sort(key=lambda r: (-r[0], -r[1], r[2]))  # best, then newest, then by id: a stable answer
    return [r[3] for r in rows[:k]]


def with_new_items(
    page: list[Recommendation],
    ctx: LiveContext,
    model: RecModel,
    k: int,
    share: float,
    exclude: Iterable[str],
    category: str | None,
) -> list[Recommendation]:
    """The model's page with up to ``round(k * share)`` new arrivals spread over it (every
    ``k // n``-th slot), each matching the profile or popular now."""
    n = min(round(k * share), k)
    live = ctx.view.unknown_to(model)
    if n == 0 or not len(live):
        return page
    t = ctx.tastes
    skip = _seen(ctx.profile) | set(exclude) | ctx.view.blocked | {r.item_id for r in page}
    scores = _scores(live, ctx, t)
    chosen = live.best(scores[0], live.mask(skip, category) & (scores[0] > 0), n)
    picked = [_recommendation(live, int(pos), ctx, t, scores, new=True) for pos in chosen]
    out = list(page[: k - len(picked)])
    step = max(1, k // n)  # the share's slots, filled from the first: one new item sits at slot k // n
    for j, rec in enumerate(picked):
        out.insert(min(len(out), (j + 1) * step - 1), rec)
    return out


def content_ranked(
    ctx: LiveContext, item_ids: list[str], unknown: str = "unknown to the model"
) -> list[tuple[str, float | None, str]]:
    """Items the model does not know, in content order: (id, score or None when the catalogue copy
    does not hold it either, reason)."""
    live, t = ctx.view.unknown_to(None), ctx.tastes
    scored, content = _scores(live, ctx, t)
    held = [(i, live.position[i]) for i in item_ids if i in live.position]
    held.sort(key=lambda ip: -scored[ip[1]])
    out: list[tuple[str, float | None, str]] = [
        (i, significant(float(scored[p])), _reason(live, p, float(content[p]), ctx, t, new=False)) for i, p in held
    ]
    return out + [(i, None, unknown) for i in item_ids if i not in live.position]


def similar_in_catalogue(
    view: CatalogView, model: RecModel | None, item_id: str, k: int
) -> list[Recommendation] | None:
    """Items like a catalogue item the model does not know; None when the catalogue copy does not
    hold it."""
    live = view.unknown_to(None)
    pos = live.position.get(item_id)
    if pos is None:
        return None
    item = live.items[pos]
    rows = [(float(s), live.items[p].item_id, live.items[p].metadata()) for p, s in enumerate(live.similar_to(item))]
    if model is not None and item.categories and (members := model.category_index.get(item.categories[-1])) is not None:
        usable = members[model.available[members]]
        best = usable[np.argsort(-model.pop[usable], kind="stable")[:MODEL_NEIGHBOURS]]
        mine = set(item.categories)
        for i in best:
            theirs = set(model.categories[int(i)])
            rows.append((len(mine & theirs) / len(mine | theirs), model.item_ids[int(i)], dict(model.metadata[int(i)])))
    title = item.title or item_id
    seen: set[str] = {item_id} | view.blocked
    out: list[Recommendation] = []
    for score, other, metadata in sorted(rows, key=lambda r: (-r[0], r[1])):
        if len(out) >= k or score <= 0:
            break
        if other not in seen:
            seen.add(other)
            out.append(Recommendation(other, significant(min(1.0, score)), [f"like {title}"], metadata))
    return out


def popular_now(ctx: LiveContext, model: RecModel | None, k: int, category: str | None) -> list[Recommendation]:
    """The window's most popular items that may be recommended, scored against the most popular."""
    held = ctx.view.items
    out: list[Recommendation] = []
    top = 0.0
    for item_id, weight in sorted(ctx.popularity.items(), key=lambda kv: (-kv[1], kv[0])):
        if len(out) >= k:
            break
        if item_id in ctx.view.blocked:
            continue
        index = model.index.get(item_id) if model is not None else None
        if model is not None and index is not None:
            if not model.available[index]:
                continue
            categories, metadata = model.categories[index], dict(model.metadata[index])
        elif item_id in held:
            categories, metadata = held[item_id].categories, held[item_id].metadata()
        else:
            categories, metadata = [], {}
        if category is not None and category not in categories:
            continue
        top = top or weight
        out.append(Recommendation(item_id, significant(weight / top), [f"popular in the last {ctx.window}"], metadata))
    return out
