"""Activation (contract section 3c): what a profile write tells the outside world.

Every segment membership change (``enter``, ``exit``) and every risk change (``raised``: a flag
appeared; ``cleared``: flags went and none appeared) of one write becomes a ``Notice``: an
EventBridge event (``source`` ``pulse``, ``detail-type`` ``segment.membership`` or ``risk.changed``)
with an id made of the user, the profile version the write produced and the change, so the notices of
one transition always have the same id. They are written in the profile's own transaction (an outbox)
and published from there: a re-delivered event changes nothing, so it makes no notice either.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

SOURCE = "pulse"
MEMBERSHIP = "segment.membership"
RISK = "risk.changed"


@dataclass(frozen=True)
class Notice:
    notice_id: str
    detail_type: str
    detail: dict[str, Any]

    def to_json(self) -> str:
        return json.dumps({"notice_id": self.notice_id, "detail_type": self.detail_type, "detail": self.detail})

    @staticmethod
    def from_json(text: str) -> Notice:
        raw = json.loads(text)
        return Notice(raw["notice_id"], raw["detail_type"], raw["detail"])


def iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat().replace("+00:00", "Z")


def membership_notices(
    user_id: str,
    version: int,
    joined: list[str],
    left: list[str],
    at: float,
    definition_versions: dict[str, int],
    features: dict[str, Any],
    rules: dict[str, list[str]],
) -> list[Notice]:
    """One notice per segment entered or left; ``features`` holds the values the segment's rule read
    (``rules``: segment -> the features its rule reads)."""
    out = []
    when = iso(at)
    for change, names in (("enter", joined), ("exit", left)):
        for name in names:
            decided = {f: features.get(f) for f in rules.get(name, [])}
            notice_id = f"{user_id}:{version}:{name}:{change}"
            detail: dict[str, Any] = {
                "user_id": user_id,
                "segment": name,
                "change": change,
                "definition_version": definition_versions.get(name, 0),
                "at": when,
                "features": decided,
                "notice_id": notice_id,
            }
            out.append(Notice(notice_id, MEMBERSHIP, detail))
    return out


def risk_notice(
    user_id: str, version: int, before: tuple[float, list[str]], after: tuple[float, list[str]], at: float
) -> Notice | None:
    """The risk change of one write, if its flags changed."""
    (old_score, old_flags), (score, flags) = before, after
    if set(old_flags) == set(flags):
        return None
    change = "raised" if set(flags) - set(old_flags) else "cleared"
    notice_id = f"{user_id}:{version}:risk:{change}"
    detail = {
        "user_id": user_id,
        "change": change,
        "score": score,
        "previous_score": old_score,
        "flags": list(flags),
        "at": iso(at),
        "notice_id": notice_id,
    }
    return Notice(notice_id, RISK, detail)
