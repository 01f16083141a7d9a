"""The API's typed contract: every route's request and answer models, and the one error shape.

The OpenAPI spec is generated from these models (``make openapi``), so the spec says what the API
does; ``tests/integration/test_api_contract.py`` checks real answers against the spec's schemas.
"""

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from pulse.domain.segments import Condition

SCORE_DESCRIPTION = (
    "Estimated probability (0-1) that this item is the user's next interaction, calibrated on held-out "
    "interactions when the model was trained. Comparable within and across answers of one model version, "
    "for known and cold-start users alike; null for items the model does not know."
)


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable machine-readable code, for example invalid_request or user_not_found")
    message: str = Field(description="What went wrong, for people")


class ErrorBody(BaseModel):
    """Every 4xx and 5xx answer of the API."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"error": {"code": "user_not_found", "message": "…"}}]})

    error: ErrorDetail


def _absent(value: object) -> bool:
    return value is None


class _Item(BaseModel):
    """``reasons`` and ``metadata`` are left out of the JSON when there are none, not sent as null."""


class ScoredItem(_Item):
    item_id: str
    score: float | None = Field(ge=0, le=1, description=SCORE_DESCRIPTION)
    reasons: list[str] | None = Field(default=None, exclude_if=_absent, description="Why this item (with explain=true)")
    metadata: dict[str, Any] | None = Field(
        default=None, exclude_if=_absent, description="Title, categories and other catalogue fields"
    )


class Recommendations(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "user_id": "u1",
                    "recommendation_id": "7f0c2a4e-0b7d-4f5e-9a41-6a3c1f1f2b10",
                    "model_version": "20261201T030000-1a2b3c4d",
                    "items": [
                        {
                            "item_id": "50",
                            "score": 0.0731,
                            "reasons": ["because you rated Return of the Jedi (1983)"],
                            "metadata": {"title": "Star Wars (1977)", "categories": ["Action", "Sci-Fi"]},
                        }
                    ],
                }
            ]
        }
    )

    user_id: str
    recommendation_id: str = Field(description="Unique per answer; send it back with events to attribute them")
    model_version: str | None = Field(
        description="null before any model: the answer comes from the live catalogue and live popularity"
    )
    items: list[ScoredItem]
    experiment: str | None = Field(
        default=None, exclude_if=_absent, description="The experiment this answer was given under (if any)"
    )
    variant: str | None = Field(default=None, exclude_if=_absent, description="The user's variant of it")


class RankedItems(Recommendations):
    """The requested items in personalised order; ids unknown to the model last, with score null."""


class ListedItem(_Item):
    item_id: str
    score: float = Field(ge=0, le=1, description="Relative to the list's first item (1.0): similarity or popularity")
    reasons: list[str] | None = Field(default=None, exclude_if=_absent)
    metadata: dict[str, Any] | None = Field(default=None, exclude_if=_absent)


ItemId = Annotated[str, StringConstraints(min_length=1, max_length=128)]


class RankRequest(BaseModel):
    """Strict: ``"explain": "true"`` is refused, not read as a boolean."""

    model_config = ConfigDict(strict=True, json_schema_extra={"examples": [{"item_ids": ["50", "181", "unknown-9"]}]})

    item_ids: list[ItemId] = Field(min_length=1, max_length=500, description="1-500 item ids")
    explain: bool = False


class SimilarItems(BaseModel):
    item_id: str
    model_version: str | None
    items: list[ListedItem]


class PopularItems(BaseModel):
    segment: str | None
    category: str | None
    window: str | None = Field(
        default=None, description="The period of live interactions counted (null: the model's popularity)"
    )
    model_version: str | None = Field(description="null before any model: the answer comes from live popularity")
    items: list[ListedItem]


class Health(BaseModel):
    status: str = Field(examples=["ok"])
    version: str = Field(description="Pulse release")
    model_version: str | None = Field(description="The model version being served; null before the first one")


class Interaction(BaseModel):
    at: str | None
    event_type: str
    item_id: str
    value: float | None = None
    recommendation_id: str | None = None


class Behavior(BaseModel):
    counts: dict[str, int]
    total_events: int
    total_spend: float
    units_purchased: int
    first_seen: str | None
    last_seen: str | None
    sessions: int
    from_recommendations: dict[str, int]
    recent_interactions: list[Interaction] = Field(description="The latest 20, most recent first")


class Preferences(BaseModel):
    half_life_days: float
    as_of: str | None = Field(description="The profile's clock (its latest event) the affinities are decayed to")
    categories: dict[str, float]
    brands: dict[str, float]
    price_bands: dict[str, float]
    items: dict[str, float] = Field(description="Negative for dislikes and ignored ads")


class Intent(BaseModel):
    session_id: str | None
    session_started_at: str | None
    cart: dict[str, int] = Field(description="Items in the cart, with their quantities")
    recent_queries: list[str]
    categories: dict[str, float]


class Risk(BaseModel):
    score: float = Field(ge=0, le=1)
    flags: list[str]


class Profile(BaseModel):
    user_id: str
    created_at: str | None
    updated_at: str | None
    version: int
    traits: dict[str, Any]
    behavior: Behavior
    preferences: Preferences
    intent: Intent
    segments: list[str]
    risk: Risk


class SegmentInfo(BaseModel):
    name: str
    description: str
    marketing: bool
    rule: list[Condition] = Field(description="All conditions must hold (features of the profile)")
    members: int


class FamilyMember(BaseModel):
    name: str
    members: int


class SegmentFamilyInfo(BaseModel):
    family: str
    pattern: str
    description: str
    marketing: bool
    segments: list[FamilyMember]


class SegmentList(BaseModel):
    segments: list[SegmentInfo]
    families: list[SegmentFamilyInfo]


class Member(BaseModel):
    user_id: str
    joined_at: float | None = Field(default=None, description="Epoch seconds of the profile clock when the user joined")


class Audience(BaseModel):
    segment: str
    users: list[Member]
    next_cursor: str | None = Field(description="Pass as cursor for the next page; null on the last page")


class Rejection(BaseModel):
    index: int = Field(description="Position of the event in the request's events")
    error: str


class CollectResult(BaseModel):
    accepted: int
    rejected: list[Rejection]


class EventBatch(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "events": [
                        {
                            "event_id": "e-1",
                            "event_type": "view",
                            "user_id": "u1",
                            "item_id": "50",
                            "timestamp": "2026-12-02T12:00:00Z",
                            "item": {"category": ["Action", "Sci-Fi"]},
                        }
                    ]
                }
            ]
        }
    )

    # Each event is validated on its own so one bad event is reported by index, not fatal.
    events: list[Any] = Field(min_length=1, max_length=500, description="Behaviour events (contract 1)")


class ErasureCountsView(BaseModel):
    objects_scanned: int = Field(description="Archive object versions read")
    objects_rewritten: int = Field(description="Current objects written again without the user's lines")
    versions_deleted: int = Field(description="Object versions that held the user's lines, deleted")
    lines_removed: int = Field(description="The user's raw events removed from the archive")
    dead_letters_removed: int = Field(description="The user's dead letters removed (queue and bucket)")


class Erasure(BaseModel):
    """An erasure job: the profile is gone when DELETE answers; this removes the user's raw data."""

    erasure_id: str
    user_sha256: str = Field(description="SHA-256 of the user id (the record never names the user)")
    status: str = Field(description="pending (waits for not_before), running, done or failed")
    requested_at: float = Field(description="Epoch seconds")
    not_before: float = Field(description="Runs after this time, once events in the archive's buffer are written")
    started_at: float | None = None
    finished_at: float | None = None
    error: str | None = None
    counts: ErasureCountsView


class ItemBatch(BaseModel):
    """``POST /items``: items with their ids, each validated on its own."""

    items: list[Any] = Field(min_length=1, max_length=500, description="Items: item_id plus the fields of PUT")
