"""The experiment routes' answers (contract section 3d); the request body is ``ExperimentSpec``."""

from typing import Any

from pydantic import BaseModel, Field

from pulse.domain.experiments import VARIANT_NAME, ExperimentSpec


class ExperimentView(ExperimentSpec):
    """A stored experiment (its assignment salt stays in the stack)."""

    experiment_id: str
    version: int = Field(description="Grows with every change")
    created_at: float
    updated_at: float
    started_at: float | None = Field(description="When it first ran: its variants are fixed from then on")
    stopped_at: float | None
    promoted: dict[str, Any] | None = Field(description="The variant promoted from it, with the figures then")


class ExperimentList(BaseModel):
    experiments: list[ExperimentView]


class PromoteRequest(BaseModel):
    variant: str = Field(pattern=VARIANT_NAME, description="The winning variant")


class Interval(BaseModel):
    value: float
    low: float = Field(description="95 % interval, low end")
    high: float = Field(description="95 % interval, high end")


class VariantResult(BaseModel):
    name: str
    weight: float
    users: int = Field(description="Distinct users exposed")
    exposures: int = Field(description="Answers given")
    clicks: int
    clickers: int = Field(description="Users with at least one click")
    conversions: int = Field(description="add_to_cart and purchase events attributed")
    converters: int = Field(description="Users with at least one conversion")
    revenue: float
    click_through_rate: Interval = Field(description="Clicks per exposure")
    conversion_rate: Interval = Field(description="Share of exposed users who converted")
    revenue_per_user: Interval = Field(description="Revenue per exposed user")


class Lift(BaseModel):
    lift: float | None = Field(description="Relative: +0.12 is 12 % better than the control; null without data")
    low: float | None
    high: float | None
    p_value: float


class VariantLift(BaseModel):
    variant: str
    against: str
    click_through_rate: Lift
    conversion_rate: Lift
    revenue_per_user: Lift


class SampleRatio(BaseModel):
    p_value: float = Field(description="Chi-square test of users per variant against the weights")
    mismatch: bool = Field(description="True when p < threshold: the split is broken, distrust the figures")
    threshold: float


class ExperimentResults(BaseModel):
    experiment_id: str
    status: str
    control: str
    started_at: float | None
    variants: list[VariantResult]
    lifts: list[VariantLift]
    sample_ratio: SampleRatio
    summary: str = Field(description="What the figures mean, in one paragraph")
    promoted: dict[str, Any] | None
