"""Behaviour events: the one representation of the contract's section 1.

Producers write these objects to Kinesis (one per record) or POST them to ``/events``. Everything that
reads an event, the updater, the collector, the training job, parses it here.
"""

import json
import math
import time
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

MAX_EVENT_BYTES = 10 * 1024
MAX_FUTURE_SECONDS = 300.0
MAX_CUSTOM_TRAITS = 50
# Bounds that keep every profile finite and decodable whatever events arrive (README, Your own data):
EARLIEST_TIMESTAMP = 631_152_000.0  # 1990-01-01T00:00:00Z: no behaviour log predates it
MAX_AMOUNT = 10_000_000.0  # a price, unit price or value: with quantity <= 10,000, spend stays finite
MAX_ITEM_NESTING = 4  # levels of lists/objects inside an item's extra fields (title, tags, ...)

EventType = Literal[
    "view",
    "click",
    "add_to_cart",
    "remove_from_cart",
    "purchase",
    "rate",
    "like",
    "dislike",
    "search",
    "ad_impression",
    "ad_click",
    "identify",
]
EVENT_TYPES: tuple[str, ...] = EventType.__args__  # type: ignore[attr-defined]

Id128 = Annotated[str, StringConstraints(min_length=1, max_length=128)]
UserId = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:@-]+$")]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=256)]


def _not_a_boolean(value: Any) -> Any:
    # JSON true/false are not numbers: without this, pydantic would read a rating of true as 1
    if isinstance(value, bool):
        raise ValueError("must be a number, not true/false")
    return value


NotBool = BeforeValidator(_not_a_boolean)
TraitValue = str | bool | int | float

KNOWN_TRAITS = ("age", "gender", "occupation", "country", "city", "zip", "signup_at")


class InvalidEvent(ValueError):
    """An event that can never be applied; ``reason`` says why in words a producer can act on."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def to_epoch(value: Any) -> float:
    """ISO-8601 with an offset, or epoch seconds, as epoch seconds."""
    if isinstance(value, bool):
        raise ValueError("must be ISO-8601 with an offset or epoch seconds")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise ValueError("epoch seconds must be a finite number")
        return _not_before_1990(float(value))
    if isinstance(value, str):
        try:  # year 1 or 9999 with an offset can overflow
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            epoch = parsed.timestamp() if parsed.tzinfo is not None else None
        except (ValueError, OverflowError) as exc:
            raise ValueError("must be ISO-8601 with an offset or epoch seconds") from exc
        if epoch is None:
            raise ValueError("ISO-8601 timestamps need a UTC offset, e.g. 2024-05-01T12:00:00Z")
        return _not_before_1990(epoch)
    raise ValueError("must be ISO-8601 with an offset or epoch seconds")


def _not_before_1990(epoch: float) -> float:
    if epoch < EARLIEST_TIMESTAMP:
        raise ValueError("timestamps before 1990-01-01T00:00:00Z are refused")
    return epoch


def _nesting(value: Any, depth: int = 0) -> int:
    if isinstance(value, dict):
        return max((_nesting(v, depth + 1) for v in value.values()), default=depth + 1)
    if isinstance(value, list):
        return max((_nesting(v, depth + 1) for v in value), default=depth + 1)
    return depth


class ItemContext(BaseModel):
    """Item facts at event time. Extra keys (title, ...) are kept as catalog metadata."""

    model_config = ConfigDict(extra="allow")

    category: str | list[str] | None = None
    brand: str | None = Field(None, max_length=128)
    price: Annotated[float | None, NotBool] = Field(None, ge=0, le=MAX_AMOUNT, allow_inf_nan=False)

    @field_validator("category")
    @classmethod
    def _categories_are_short(cls, value: str | list[str] | None) -> str | list[str] | None:
        names = [value] if isinstance(value, str) else value or []
        if len(names) > 20 or any(not 0 < len(n) <= 128 for n in names):
            raise ValueError("category: up to 20 names of 1-128 characters")
        return value

    @model_validator(mode="after")
    def _extras_are_shallow(self) -> "ItemContext":
        extras = self.model_extra or {}
        for key in [k for k, v in extras.items() if v is None]:  # a null says nothing, and is not stored
            del extras[key]
        for key, val in extras.items():
            if _nesting(val) > MAX_ITEM_NESTING:
                raise ValueError(f"item.{key} nests lists or objects deeper than {MAX_ITEM_NESTING} levels")
        return self

    @property
    def categories(self) -> list[str]:
        if self.category is None:
            return []
        return [self.category] if isinstance(self.category, str) else list(self.category)


class Traits(BaseModel):
    """Basic information from ``identify``: known fields plus up to 50 custom traits."""

    model_config = ConfigDict(extra="allow")

    age: Annotated[int | None, NotBool] = Field(None, ge=0, le=120)
    gender: str | None = Field(None, max_length=64)
    occupation: str | None = Field(None, max_length=128)
    country: str | None = Field(None, max_length=64)
    city: str | None = Field(None, max_length=128)
    zip: str | None = Field(None, max_length=32)
    signup_at: float | None = None

    @field_validator("signup_at", mode="before")
    @classmethod
    def _signup_epoch(cls, value: Any) -> float | None:
        return None if value is None else to_epoch(value)

    @model_validator(mode="after")
    def _custom_traits(self) -> "Traits":
        extra = self.model_extra or {}
        if len(extra) > MAX_CUSTOM_TRAITS:
            raise ValueError(f"at most {MAX_CUSTOM_TRAITS} custom traits")
        for key, val in extra.items():
            if not 0 < len(key) <= 64:
                raise ValueError("custom trait names are 1-64 characters")
            if not isinstance(val, str | bool | int | float) or (isinstance(val, float) and not math.isfinite(val)):
                raise ValueError(f"custom trait {key!r} must be a string, number or boolean")
            if isinstance(val, str) and len(val) > 256:
                raise ValueError(f"custom trait {key!r} is longer than 256 characters")
        return self

    def as_dict(self) -> dict[str, TraitValue]:
        """Only the traits that were given."""
        return {k: v for k, v in self.model_dump(exclude_none=True).items()}


class BehaviorEvent(BaseModel):
    """One behaviour event (contract section 1). Timestamps are normalised to epoch seconds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: Id128
    event_type: EventType
    user_id: UserId
    timestamp: float
    item_id: Id128 | None = None
    session_id: Id128 | None = None
    value: Annotated[float | None, NotBool] = Field(None, ge=-MAX_AMOUNT, le=MAX_AMOUNT, allow_inf_nan=False)
    quantity: int = Field(1, ge=1, le=10_000)
    query: Annotated[str, StringConstraints(min_length=1, max_length=512)] | None = None
    item: ItemContext | None = None
    traits: Traits | None = None
    campaign_id: Id128 | None = None
    recommendation_id: Id128 | None = None
    context: dict[str, Annotated[str, StringConstraints(max_length=512)]] | None = None

    @field_validator("timestamp", mode="before")
    @classmethod
    def _timestamp(cls, value: Any) -> float:
        return to_epoch(value)

    @field_validator("quantity", mode="before")
    @classmethod
    def _integer_quantity(cls, value: Any) -> Any:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError("quantity must be an integer >= 1")
        return value

    @model_validator(mode="after")
    def _rules_per_type(self, info: ValidationInfo) -> "BehaviorEvent":
        kind = self.event_type
        if kind not in ("search", "identify") and self.item_id is None:
            raise ValueError(f"item_id is required for {kind} events")
        if kind == "search" and self.query is None:
            raise ValueError("query is required for search events")
        if kind == "identify" and self.traits is None:
            raise ValueError("traits is required for identify events")
        if kind == "rate" and (self.value is None or not 1 <= self.value <= 5):
            raise ValueError("rate events need value, the rating, between 1 and 5")
        if kind == "purchase" and self.value is not None and self.value < 0:
            raise ValueError("purchase value is the unit price and cannot be negative")
        context = info.context if isinstance(info.context, dict) else {}
        now = float(context.get("now", time.time()))
        if self.timestamp > now + MAX_FUTURE_SECONDS:
            raise ValueError("timestamp is more than 5 minutes ahead of the processor's clock")
        return self

    @property
    def unit_price(self) -> float | None:
        if self.value is not None and self.event_type == "purchase":
            return self.value
        return self.item.price if self.item else None

    def to_json(self) -> str:
        return self.model_dump_json(exclude_none=True)


def describe_validation_error(exc: ValidationError) -> str:
    """A short, producer-readable reason from a pydantic error."""
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ())) or "event"
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(f"{where}: {msg}")
    return "; ".join(parts)


def parse_event(payload: bytes | str | dict[str, Any], now: float | None = None) -> BehaviorEvent:
    """Validate one event from raw bytes, text or a decoded object; raises ``InvalidEvent``."""
    ctx = {"now": time.time() if now is None else now}
    if isinstance(payload, dict):
        raw_size = len(json.dumps(payload, separators=(",", ":")).encode())
        if raw_size > MAX_EVENT_BYTES:
            raise InvalidEvent(f"event is {raw_size} bytes; the limit is {MAX_EVENT_BYTES}")
        try:
            return BehaviorEvent.model_validate(payload, context=ctx)
        except ValidationError as exc:
            raise InvalidEvent(describe_validation_error(exc)) from exc
    raw = payload.encode() if isinstance(payload, str) else payload
    if len(raw) > MAX_EVENT_BYTES:
        raise InvalidEvent(f"event is {len(raw)} bytes; the limit is {MAX_EVENT_BYTES}")
    try:
        # pydantic parses and validates in one pass (the updater's hot path)
        return BehaviorEvent.model_validate_json(raw, context=ctx)
    except ValidationError as exc:
        first: dict[str, Any] = dict(exc.errors()[0]) if exc.error_count() else {}
        if first.get("type") == "json_invalid" and "recursion limit" in str(first.get("msg")):
            raise InvalidEvent(f"the event nests too deeply (item fields: {MAX_ITEM_NESTING} levels)") from exc
        if first.get("type") == "json_invalid":
            raise InvalidEvent(f"not UTF-8 JSON: {first.get('msg', 'invalid JSON')}") from exc
        if first.get("type") == "model_type" and not first.get("loc"):
            raise InvalidEvent("an event must be a JSON object") from exc
        raise InvalidEvent(describe_validation_error(exc)) from exc
