"""The live catalogue: what an item is, its bounds, and how a change applies.

Items are put (created or replaced), patched (the given fields change), or deleted (kept as a
tombstone, so every serving copy learns that the item is gone). One model validates every way in.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, Strict, StringConstraints, field_validator

# item ids the routes take: 1-128 characters a URL path segment carries without escaping
ITEM_ID = r"^[A-Za-z0-9_.~-]{1,128}$"
MAX_PRICE = 1e9
EPOCH = datetime(1970, 1, 1)
Name = Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)]
Tag = Annotated[str, StringConstraints(min_length=1, max_length=50, strip_whitespace=True)]
AttributeKey = Annotated[str, StringConstraints(min_length=1, max_length=64)]
# strict: a price "12" or an availability "yes" is a 400, not guessed (JSON integers are numbers)
Number = Annotated[float, Strict()]
Flag = Annotated[bool, Strict()]
EpochSeconds = Annotated[float, Strict(), Field(ge=-62135596800, le=253402300799)]  # the years 1 to 9999
AttributeValue = Annotated[str, StringConstraints(max_length=500)] | Flag | Number


class ItemFields(BaseModel):
    """The fields of an item, every one optional (a PATCH gives some; a PUT's absent ones take their
    defaults)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    title: str | None = Field(None, min_length=1, max_length=500)
    categories: list[Name] | None = Field(None, max_length=10, description="Most general first, most specific last")
    brand: Name | None = None
    price: Number | None = Field(None, ge=0, le=MAX_PRICE)
    currency: str | None = Field(None, pattern=r"^[A-Z]{3}$", description="ISO 4217, for example EUR")
    available: Flag | None = Field(None, description="false: never recommended until true again")
    created_at: EpochSeconds | AwareDatetime | None = Field(None, description="ISO-8601 with offset, or epoch seconds")
    tags: list[Tag] | None = Field(None, max_length=50)
    attributes: dict[AttributeKey, AttributeValue] | None = Field(None, max_length=50)

    @field_validator("created_at", mode="before")
    @classmethod
    def _one_reading(cls, value: object) -> object:
        """Numbers are epoch seconds within the schema's range, strings ISO-8601 with an offset; no
        other reading (pydantic would take a large number as milliseconds, "123" as a time)."""
        if isinstance(value, bool):
            raise ValueError("ISO-8601 with an offset, or epoch seconds, not a boolean")
        if isinstance(value, int | float) and not -62135596800 <= value <= 253402300799:
            raise ValueError("epoch seconds between the years 1 and 9999")
        if isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value)
            except ValueError as exc:
                raise ValueError("ISO-8601 date-time with an offset, for example 2026-12-01T10:00:00Z") from exc
            if parsed.tzinfo is None:
                raise ValueError("give the offset, for example Z or +01:00")
            return parsed
        return value

    @field_validator("created_at")
    @classmethod
    def _epoch(cls, value: float | datetime | None) -> float | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            return float(value)
        offset = value.utcoffset() or timedelta(0)  # naive arithmetic: year 1 at +14:00 does not overflow
        return (value.replace(tzinfo=None) - EPOCH).total_seconds() - offset.total_seconds()


class NewItem(ItemFields):
    """An item of a batch (``POST /items``): its id beside its fields."""

    item_id: str = Field(pattern=ITEM_ID, min_length=1, max_length=128)


class CatalogItem(BaseModel):
    """An item as stored and answered."""

    item_id: str
    title: str | None = None
    categories: list[str] = Field(default_factory=list)
    brand: str | None = None
    price: float | None = None
    currency: str | None = None
    available: bool = True
    created_at: float
    updated_at: float
    tags: list[str] = Field(default_factory=list)
    attributes: dict[str, Any] = Field(default_factory=dict)

    def metadata(self) -> dict[str, Any]:
        """What recommendation answers carry about the item."""
        out: dict[str, Any] = {"title": self.title, "category": self.categories, "brand": self.brand}
        out |= {"price": self.price, "currency": self.currency}
        return {k: v for k, v in out.items() if v not in (None, [])}


def replaced(item_id: str, fields: ItemFields, now: float, previous: CatalogItem | None) -> CatalogItem:
    """A PUT: the given fields, defaults for the rest (``created_at`` kept from the item it replaces)."""
    given = fields.model_dump(exclude_none=True)
    created = given.pop("created_at", None) or (previous.created_at if previous else now)
    return CatalogItem(item_id=item_id, created_at=created, updated_at=now, **given)


def patched(item: CatalogItem, fields: ItemFields, now: float) -> CatalogItem:
    """A PATCH: only the given fields change (``null`` is not a value: a field cannot be unset)."""
    changes = fields.model_dump(exclude_unset=True, exclude_none=True)
    return item.model_copy(update={**changes, "updated_at": now})


class ItemUpdateEvent(BaseModel):
    """A catalogue change on the stream (``event_type`` ``item_update``): the item's fields in
    ``item``, validated exactly as ``PATCH /items/{item_id}`` validates them. It creates the item or
    changes the given fields; a change older than the item's last write (or the same change sent
    again) has no effect: the latest ``timestamp`` wins."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: str = Field(min_length=1, max_length=128)
    event_type: Literal["item_update"]
    item_id: str = Field(pattern=ITEM_ID, min_length=1, max_length=128)
    timestamp: float
    item: ItemFields = Field(default_factory=lambda: ItemFields.model_validate({}))
    context: dict[str, Annotated[str, StringConstraints(max_length=512)]] | None = None

    @field_validator("timestamp", mode="before")
    @classmethod
    def _timestamp(cls, value: object) -> float:
        from pulse.domain.events import to_epoch

        return to_epoch(value)


def updated(current: CatalogItem | None, change: ItemUpdateEvent) -> CatalogItem | None:
    """The item after a stream change; None when the change is not newer than the item."""
    if current is None:
        return replaced(change.item_id, change.item, change.timestamp, None)
    if change.timestamp <= current.updated_at:
        return None
    return patched(current, change.item, change.timestamp)
