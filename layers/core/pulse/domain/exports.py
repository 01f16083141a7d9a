"""Audience exports (contract section 3c): what a request may ask for, the job, and a row.

An export writes a segment's members with chosen profile fields as gzip CSV or JSON Lines. Fields
that identify a person (``PII_FIELDS``: demographics and location) are written only when the request
says ``include_pii``; a request naming one without it is refused with the reason.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from pulse.domain.profile import UserProfile

EXPORT_ID = re.compile(r"^exp_[0-9a-f]{24}$")
BEHAVIOUR_FIELDS = (
    "first_seen",
    "last_seen",
    "total_events",
    "total_spend",
    "purchases",
    "sessions",
    "cart_items",
    "segments",
    "risk_score",
)
PII_FIELDS = ("age", "gender", "occupation", "country", "city", "zip")
DEFAULT_FIELDS = ("last_seen", "total_spend", "purchases", "sessions")


class ExportRequest(BaseModel):
    """The body of ``POST /segments/{segment}/exports``."""

    format: Literal["csv", "jsonl"] = "csv"
    fields: list[str] = Field(
        default_factory=lambda: list(DEFAULT_FIELDS),
        max_length=20,
        description=f"Profile fields beside user_id: {', '.join(BEHAVIOUR_FIELDS)}; with include_pii also "
        f"{', '.join(PII_FIELDS)}",
    )
    include_pii: bool = Field(default=False, description="Allow fields that identify a person (traits)")

    @model_validator(mode="after")
    def _known(self) -> ExportRequest:
        unknown = [f for f in self.fields if f not in BEHAVIOUR_FIELDS + PII_FIELDS]
        if unknown:
            raise ValueError(f"unknown fields {unknown}; fields are {', '.join(BEHAVIOUR_FIELDS + PII_FIELDS)}")
        personal = [f for f in self.fields if f in PII_FIELDS]
        if personal and not self.include_pii:
            raise ValueError(f"fields {personal} identify people: set include_pii to true to export them")
        if len(set(self.fields)) != len(self.fields):
            raise ValueError("fields must not repeat")
        return self


class ExportJob(BaseModel):
    export_id: str
    segment: str
    format: Literal["csv", "jsonl"]
    fields: list[str]
    status: Literal["queued", "running", "done", "failed"] = "queued"
    rows: int = 0
    requested_at: float
    finished_at: float | None = None
    key: str | None = None  # where the file is in the bucket, once written
    error: str | None = None

    @staticmethod
    def new(segment: str, request: ExportRequest, now: float) -> ExportJob:
        return ExportJob(
            export_id=f"exp_{secrets.token_hex(12)}",
            segment=segment,
            format=request.format,
            fields=list(request.fields),
            requested_at=now,
        )


def _iso(at: float | None) -> str | None:
    return None if at is None else datetime.fromtimestamp(at, UTC).isoformat().replace("+00:00", "Z")


def row(user_id: str, profile: UserProfile | None, fields: list[str]) -> dict[str, Any]:
    """The member's row (a member whose profile is gone meanwhile: its id and empty fields)."""
    out: dict[str, Any] = {"user_id": user_id}
    if profile is None:
        return out | dict.fromkeys(fields)
    b = profile.behavior
    values: dict[str, Any] = {
        "first_seen": _iso(b.first_seen),
        "last_seen": _iso(b.last_seen),
        "total_events": sum(b.counts.values()),
        "total_spend": round(b.total_spend, 2),
        "purchases": b.counts.get("purchase", 0),
        "sessions": b.sessions,
        "cart_items": profile.cart_lines(),
        "segments": " ".join(sorted(profile.segments)),
        "risk_score": profile.risk.score,
    }
    for name in fields:
        out[name] = values[name] if name in values else profile.traits.get(name)
    return out
