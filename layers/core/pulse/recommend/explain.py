"""Why an item is on a page: up to two reasons, from the features that raised its score most."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from pulse.recommend.features import SourceRows

if TYPE_CHECKING:
    from pulse.recommend.scorer import Scorer, Signals

VERBS = {
    "rate": "rated",
    "purchase": "bought",
    "add_to_cart": "added",
    "like": "liked",
    "view": "viewed",
    "click": "clicked",
    "ad_click": "clicked",
}


class Explainer:
    """The reasons of one user's items; the recent items' neighbour and transition rows are gathered
    once, for all the items explained."""

    def __init__(self, scorer: Scorer, sig: Signals) -> None:
        self.scorer, self.sig = scorer, sig
        self.sources: dict[str, SourceRows] = {}

    def reasons(self, item: int, z: np.ndarray | None) -> list[str]:
        """``z``: the item's standardised features (None for a cold-start answer)."""
        scorer, sig = self.scorer, self.sig
        if z is None:
            if scorer.cold_start == "segment" and sig.segments:
                return [f"popular among {sig.segments[0]}"]
            return ["popular right now"]
        contributions = sorted(
            ((float(scorer.coef[f] * z[f]), name) for f, name in enumerate(scorer.features)), reverse=True
        )
        out: list[str] = []
        for value, name in contributions:
            if value <= 0 or len(out) >= 2:
                break
            text = self.reason(name, item)
            if text and text not in out:
                out.append(text)
        return out or ["matches your recent activity"]

    def reason(self, feature: str, item: int) -> str | None:
        m, sig = self.scorer.model, self.sig
        if feature in ("nbr_recent", "nbr_affinity", "transition"):
            best = self._rows(feature == "transition").strongest(item)
            if best is None:
                return None
            title = m.metadata[best].get("title") or m.item_ids[best]
            if feature == "transition":
                return f"often next after {title}"
            return f"because you {VERBS.get(sig.recent_kind.get(best, ''), 'liked')} {title}"
        if feature == "segment_pop" and sig.segments:
            return f"popular among {sig.segments[0]}"
        if feature == "trending":
            cats = m.categories[item]
            return f"trending in {cats[0]}" if cats else "trending now"
        if feature == "category_affinity":
            cats = [c for c in m.categories[item] if c in sig.categories]
            return f"you like {cats[0]}" if cats else None
        if feature == "log_pop":
            return "popular overall"
        return None

    def _rows(self, transition: bool) -> SourceRows:
        key = "transition" if transition else "neighbours"
        if key not in self.sources:
            m, params = self.scorer.model, self.scorer.params
            lists = m.transitions if transition else m.neighbors
            decay = params.transition_decay if transition else params.recency_decay
            self.sources[key] = SourceRows(lists, self.sig.recent, decay)
        return self.sources[key]
