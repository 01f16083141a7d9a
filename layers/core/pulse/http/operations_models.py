"""Response models of the operators' routes: the overview, model versions and the serving pointer."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Counts(BaseModel):
    events: int = Field(description="Events applied to profiles (duplicates and re-deliveries not counted)")
    profiles: int = Field(description="Profile writes")
    dead_letters: int = Field(description="Records sent to the dead-letter queue")


class MinuteCounts(Counts):
    at: int = Field(description="The minute's start (epoch seconds, processing time)")


class Alarm(BaseModel):
    name: str
    reason: str
    since: float | None


class Overview(BaseModel):
    at: float
    model_version: str | None = Field(description="The version this API copy serves (null: live popularity)")
    users: int | None = Field(description="Profiles stored (DynamoDB's item count, refreshed about every 6 h)")
    recent_minutes: int
    recent: Counts | None = Field(description="Totals of the last recent_minutes minutes (null: unreadable)")
    minutes: list[MinuteCounts] = Field(description="The updater's work per minute, oldest first")
    dead_letters_waiting: int | None = Field(description="Messages in the dead-letter queue (null: unknown)")
    alarms: list[Alarm] | None = Field(description="The stack's alarms in ALARM (null: the stack cannot tell)")
    experiments_running: list[str] | None = Field(description="Ids of the running experiments (null: unreadable)")


class ModelVersion(BaseModel):
    version: str
    serving: bool
    events: int | None = None
    users: int | None = None
    items: int | None = None
    test: dict[str, float] = Field(default_factory=dict, description="Held-out HR@10 and NDCG@10")
    baselines: dict[str, float | None] = Field(default_factory=dict, description="The baselines' NDCG@10")
    training_seconds: float | None = None
    gate: dict[str, Any] | None = Field(None, description="The training gate's decision: promote, reason, figures")
    error: str | None = None


class Pointer(BaseModel):
    model_config = ConfigDict(extra="allow")

    version: str
    promoted_at: float | None = None
    history: list[str] = Field(default_factory=list, description="Earlier versions, newest first (rollback)")
    applies_within_seconds: float | None = Field(
        None, description="After a promotion or rollback: every API copy serves it within this time"
    )


class ModelList(BaseModel):
    serving: str | None
    pointer: Pointer | None
    total_versions: int = Field(description="Versions in the model bucket")
    versions: list[ModelVersion] = Field(
        description="Newest first: the newest `limit`, and the served one and the one before it wherever they are"
    )


class PromoteModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    force: bool = Field(False, description="Serve it even though the training gate refused it (recorded)")
