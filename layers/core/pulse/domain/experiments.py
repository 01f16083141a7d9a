"""Experiments (contract section 3d): variants served side by side, users assigned for good.

- **Definition**: variants with a traffic weight and what each serves (``Serve``), an optional
  eligibility segment, a status. The first variant is the control unless ``control`` names another.
- **Assignment** is a pure function of the experiment's salt and the user id (SHA-256, the first 8
  bytes as a fraction of 2**64, against the cumulative weights): sticky across calls, containers and
  model versions, and independent across experiments (each has its own random salt).
- **Recommendation ids** of answers given under an experiment name it and the variant, and end with
  an HMAC of both under the salt: ``x.<experiment>.<variant>.<nonce>.<mac>`` (at most 113 characters,
  within an event's 128). The profile updater attributes an event carrying one to that variant with no
  lookup, and an id nobody issued (a typo, a forgery) is not counted.
- **Outcomes**: a ``click`` is a click, an ``add_to_cart`` or ``purchase`` a conversion, a purchase's
  value x quantity revenue (contract section 3d).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from pulse.domain.events import BehaviorEvent

EXPERIMENT_ID = r"^[A-Za-z0-9_-]{1,48}$"
VARIANT_NAME = r"^[A-Za-z0-9_-]{1,32}$"
MAX_VARIANTS = 10
RID_PREFIX = "x"
MAC_CHARS = 12


class Serve(BaseModel):
    """What a variant answers with."""

    strategy: Literal["default", "model", "popular", "frozen"] = Field(
        description="default: what everyone else gets; model: a published model version; popular: live "
        "popularity (not personalised); frozen: the served model with the profile as it was at as_of"
    )
    model_version: str | None = Field(default=None, min_length=1, max_length=64, description="For model")
    as_of: float | None = Field(default=None, description="For frozen: epoch seconds or ISO-8601")

    @field_validator("as_of", mode="before")
    @classmethod
    def _epoch(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
            except ValueError as exc:
                raise ValueError(f"as_of {value!r} is neither epoch seconds nor ISO-8601") from exc
        return value

    @model_validator(mode="after")
    def _fields_of_strategy(self) -> Serve:
        if (self.strategy == "model") != (self.model_version is not None):
            raise ValueError("model_version is required with strategy model, and only with it")
        if (self.strategy == "frozen") != (self.as_of is not None):
            raise ValueError("as_of is required with strategy frozen, and only with it")
        return self


class Variant(BaseModel):
    name: str = Field(pattern=VARIANT_NAME)
    weight: float = Field(gt=0, le=1000, description="Relative share of the eligible users")
    serve: Serve


class ExperimentSpec(BaseModel):
    """The body of ``PUT /experiments/{id}``."""

    description: str = Field(default="", max_length=1000)
    variants: list[Variant] = Field(min_length=2, max_length=MAX_VARIANTS)
    control: str | None = Field(default=None, description="The variant others are compared with (default: the first)")
    segment: str | None = Field(default=None, min_length=1, max_length=200, description="Only users in this segment")
    status: Literal["running", "stopped"] = "running"

    @model_validator(mode="after")
    def _names(self) -> ExperimentSpec:
        names = [v.name for v in self.variants]
        if len(set(names)) != len(names):
            raise ValueError(f"variant names must be distinct: {names}")
        if self.control is not None and self.control not in names:
            raise ValueError(f"control {self.control!r} is not one of the variants {names}")
        return self

    @property
    def control_name(self) -> str:
        return self.control or self.variants[0].name

    def model_versions(self) -> set[str]:
        return {v.serve.model_version for v in self.variants if v.serve.model_version is not None}


class Experiment(ExperimentSpec):
    """A stored experiment. The salt never leaves the stack (``public`` drops it)."""

    experiment_id: str = Field(pattern=EXPERIMENT_ID)
    salt: str = Field(default_factory=lambda: secrets.token_hex(16))
    version: int = 1
    created_at: float
    updated_at: float
    started_at: float | None = None
    stopped_at: float | None = None
    promoted: dict[str, object] | None = None

    def public(self) -> dict[str, object]:
        return self.model_dump(exclude={"salt"})

    def assign(self, user_id: str) -> Variant:
        """The user's variant: sticky, and independent of every other experiment's."""
        digest = hashlib.sha256(f"{self.salt}:{user_id}".encode()).digest()
        point = int.from_bytes(digest[:8], "big") / 2.0**64 * sum(v.weight for v in self.variants)
        for variant in self.variants:
            point -= variant.weight
            if point < 0:
                return variant
        return self.variants[-1]

    def recommendation_id(self, variant: str) -> str:
        nonce = secrets.token_hex(8)
        return f"{RID_PREFIX}.{self.experiment_id}.{variant}.{nonce}.{self._mac(variant, nonce)}"

    def issued(self, recommendation_id: str) -> str | None:
        """The variant a recommendation id of this experiment was issued for; None if it was not."""
        parts = recommendation_id.split(".")
        if len(parts) != 5 or parts[0] != RID_PREFIX or parts[1] != self.experiment_id:
            return None
        _, _, variant, nonce, mac = parts
        if not hmac.compare_digest(mac, self._mac(variant, nonce)):
            return None
        return variant if any(v.name == variant for v in self.variants) else None

    def _mac(self, variant: str, nonce: str) -> str:
        message = f"{self.experiment_id}.{variant}.{nonce}".encode()
        return hmac.new(self.salt.encode(), message, hashlib.sha256).hexdigest()[:MAC_CHARS]


def experiment_of(recommendation_id: str | None) -> str | None:
    """The experiment a recommendation id names, if it is shaped like an experiment's (not verified)."""
    if not recommendation_id or not recommendation_id.startswith(RID_PREFIX + "."):
        return None
    parts = recommendation_id.split(".")
    return parts[1] if len(parts) == 5 else None


@dataclass(frozen=True)
class Outcome:
    """What one attributed event adds to its variant's counters."""

    clicks: int = 0
    conversions: int = 0
    revenue: float = 0.0

    @property
    def counts(self) -> bool:
        return bool(self.clicks or self.conversions or self.revenue)


def outcome_of(event: BehaviorEvent) -> Outcome:
    kind = event.event_type
    if kind == "click":
        return Outcome(clicks=1)
    if kind == "add_to_cart":
        return Outcome(conversions=1)
    if kind == "purchase":
        return Outcome(conversions=1, revenue=(event.unit_price or 0.0) * event.quantity)
    return Outcome()


def day_of(timestamp: float) -> str:
    """The UTC day counters are kept per."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
