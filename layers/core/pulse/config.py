"""Configuration: the environment variables declared in template.yaml, read in one place."""

from __future__ import annotations

import os
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field


class Settings(BaseModel):
    """Settings of every Pulse function. Names match the template's ``Environment.Variables``."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    profiles_table: str = Field("pulse-profiles", alias="PROFILES_TABLE")
    segments_table: str = Field("pulse-segments", alias="SEGMENTS_TABLE")
    clients_table: str = Field("pulse-clients", alias="CLIENTS_TABLE")
    items_table: str = Field("pulse-items", alias="ITEMS_TABLE")
    activity_table: str = Field("pulse-activity", alias="ACTIVITY_TABLE")
    # runtime segment definitions: how often each function re-reads them (a change is in force within it)
    segment_definitions_refresh_seconds: float = Field(30.0, gt=0, le=300, alias="SEGMENT_DEFINITIONS_REFRESH_SECONDS")
    experiments_table: str = Field("pulse-experiments", alias="EXPERIMENTS_TABLE")
    # experiments: how often a serving copy re-reads the definitions, how many may run at once, and
    # how many model versions besides the served one the API holds for them
    experiment_refresh_seconds: float = Field(10.0, gt=0, le=300, alias="EXPERIMENT_REFRESH_SECONDS")
    max_running_experiments: int = Field(5, ge=1, le=20, alias="MAX_RUNNING_EXPERIMENTS")
    experiment_model_versions: int = Field(2, ge=0, le=5, alias="EXPERIMENT_MODEL_VERSIONS")
    # live popularity: how often a serving copy re-reads a window's counters
    popularity_refresh_seconds: float = Field(30.0, gt=0, le=3600, alias="POPULARITY_REFRESH_SECONDS")
    # recommendation pages with a model: at most this share of the slots goes to catalogue items the
    # model does not know yet (new arrivals, scored by content)
    new_item_share: float = Field(0.2, ge=0, le=0.5, alias="NEW_ITEM_SHARE")
    # how often a serving copy of the catalogue asks what changed (an unavailable item leaves answers then)
    catalog_refresh_seconds: float = Field(2.0, gt=0, le=60, alias="CATALOG_REFRESH_SECONDS")
    event_stream: str = Field("pulse-events", alias="EVENT_STREAM")
    event_bus_name: str = Field("pulse-bus", alias="EVENT_BUS_NAME")
    model_bucket: str = Field("pulse-models", alias="MODEL_BUCKET")
    dead_letter_queue_url: str = Field("", alias="DEAD_LETTER_QUEUE_URL")
    erasure_queue_url: str = Field("", alias="ERASURE_QUEUE_URL")
    export_queue_url: str = Field("", alias="EXPORT_QUEUE_URL")
    # segments exported every day (comma-separated names), by the exporter's schedule
    daily_export_segments: str = Field("", alias="DAILY_EXPORT_SEGMENTS")
    # erasure jobs wait this long, so events in the archive's buffer are in S3 when they run
    erasure_delay_seconds: int = Field(360, ge=0, le=900, alias="ERASURE_DELAY_SECONDS")
    decay_half_life_days: float = Field(14.0, gt=0, alias="DECAY_HALF_LIFE_DAYS")
    # after DELETE /users/{id}: how long that user's events in flight or sent again are dropped
    erasure_tombstone_days: float = Field(7.0, ge=0, alias="ERASURE_TOMBSTONE_DAYS")
    model_refresh_seconds: float = Field(30.0, gt=0, alias="MODEL_REFRESH_SECONDS")
    # producers send ad_impression events: only then are ad clicks without impressions a risk signal
    ad_impressions_tracked: bool = Field(True, alias="AD_IMPRESSIONS_TRACKED")
    # profile updater: users of one batch read and written at once (DynamoDB's connection pool holds 10)
    updater_user_concurrency: int = Field(8, ge=1, le=10, alias="UPDATER_USER_CONCURRENCY")
    # memory (MiB) for the profiles the updater keeps as it wrote them, to skip reading them back (0: off),
    # and for how long (well under the day a tombstone lives: services/profile_cache.py)
    updater_profile_cache_mb: int = Field(256, ge=0, le=8192, alias="UPDATER_PROFILE_CACHE_MB")
    updater_profile_cache_seconds: float = Field(300.0, gt=0, le=3600, alias="UPDATER_PROFILE_CACHE_SECONDS")
    # the retraining function: the archive's window it reads, the events one run trains on at most (the
    # measured ceiling; above it the newest are kept), users its evaluation replays, the gate's margin
    training_window_days: float = Field(30.0, gt=0, le=3650, alias="TRAINING_WINDOW_DAYS")
    training_max_events: int = Field(5_000_000, ge=1000, alias="TRAINING_MAX_EVENTS")
    training_eval_users: int = Field(5000, ge=10, alias="TRAINING_EVAL_USERS")
    training_dense_max_items: int = Field(5000, ge=0, le=20000, alias="TRAINING_DENSE_MAX_ITEMS")
    gate_margin: float = Field(0.0, ge=0, le=1, alias="GATE_MARGIN")
    # the stack's name: its alarms' names start with it (the console's overview lists those in ALARM)
    stack_name: str = Field("", alias="STACK_NAME")
    region: str = Field("us-east-1", alias="AWS_REGION")
    # Set only on the local stack (moto); on AWS the SDK's default endpoints are used.
    endpoint_url: str | None = Field(None, alias="AWS_ENDPOINT_URL")

    @property
    def half_life_seconds(self) -> float:
        return self.decay_half_life_days * 86400.0


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings; read once (tests call ``get_settings.cache_clear()``)."""
    return Settings.model_validate(dict(os.environ))
