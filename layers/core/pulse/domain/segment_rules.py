"""Segment definitions at runtime (contract section 3c): what a rule may say, and the catalogue the
stored definitions make together with the built-in ones (``segments.json``).

A rule is a conjunction of conditions on the features ``segments.features`` computes. Validation
names what is wrong: an unknown feature (and the ones that exist), an unknown operator, a value of
the wrong kind for its feature (numbers compare with any operator; true/false and text features
only with ``==`` and ``!=``). A stored definition replaces the built-in of the same name, adds a new
segment, or (``deleted``) removes one; families (``fan:<category>``) stay as built.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from pulse.domain.segments import OPS, Condition, SegmentCatalog, SegmentDefinition

SEGMENT_NAME = r"^[a-z][a-z0-9_]{0,63}$"
MAX_CONDITIONS = 20
FEATURE_KINDS: dict[str, Literal["number", "boolean", "text"]] = {
    "account_age_days": "number",
    "total_spend": "number",
    "purchases": "number",
    "sessions": "number",
    "return_gap_days": "number",
    "days_since_last_seen": "number",
    "cart_items": "number",
    "hours_since_cart_activity": "number",
    "purchased_since_cart": "boolean",
    "ad_clicks": "number",
    "ad_ctr": "number",
    "age": "number",
    "gender": "text",
    "country": "text",
    "city": "text",
    "occupation": "text",
    "risk_score": "number",
    "risk_flagged": "boolean",
}


class InvalidRule(ValueError):
    """A rule that cannot be evaluated; the message says which condition and why."""


class RawCondition(BaseModel):
    """A condition as a client sends it: checked by ``validate_rule`` for a message that names the
    unknown feature or operator, rather than by the schema alone."""

    feature: str = Field(min_length=1, max_length=64, description=f"One of: {', '.join(FEATURE_KINDS)}")
    op: str = Field(min_length=1, max_length=4, description=f"One of: {' '.join(OPS)}")
    value: float | int | bool | str


class SegmentBody(BaseModel):
    """The body of ``PUT /segments/{segment}``."""

    rule: list[RawCondition] = Field(min_length=1, max_length=MAX_CONDITIONS, description="All must hold")
    description: str = Field(default="", max_length=500)
    marketing: bool = Field(default=True, description="A marketing audience: flagged (risky) users are left out")


def validate_rule(conditions: list[RawCondition]) -> list[Condition]:
    out = []
    for n, c in enumerate(conditions, start=1):
        kind = FEATURE_KINDS.get(c.feature)
        if kind is None:
            raise InvalidRule(f"condition {n}: unknown feature {c.feature!r}; features are {', '.join(FEATURE_KINDS)}")
        if c.op not in OPS:
            raise InvalidRule(f"condition {n}: unknown operator {c.op!r}; operators are {' '.join(OPS)}")
        value: Any = c.value
        if kind == "number" and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise InvalidRule(f"condition {n}: {c.feature} is a number; compare it with a number, not {value!r}")
        if kind == "boolean" and not isinstance(value, bool):
            raise InvalidRule(f"condition {n}: {c.feature} is true or false; compare it with true or false")
        if kind == "text" and not isinstance(value, str):
            raise InvalidRule(f"condition {n}: {c.feature} is text; compare it with a string")
        if kind != "number" and c.op not in ("==", "!="):
            raise InvalidRule(f"condition {n}: {c.feature} is {kind}: use == or !=, not {c.op}")
        out.append(Condition(feature=c.feature, op=c.op, value=value))  # type: ignore[arg-type]
    return out


class Evaluation(BaseModel):
    """The background pass that applies a new or changed definition to every existing profile."""

    status: Literal["pending", "running", "done"] = "pending"
    scanned: int = Field(default=0, description="Profiles evaluated so far")
    joined: int = 0
    left: int = 0
    started_at: float | None = None
    finished_at: float | None = None
    resume: dict[str, Any] | None = None  # where the scan goes on (not shown by the API)


class StoredSegment(BaseModel):
    name: str
    rule: list[Condition]
    description: str = ""
    marketing: bool = True
    version: int = 1
    updated_at: float
    deleted: bool = False
    evaluation: Evaluation = Field(default_factory=Evaluation)

    def definition(self) -> SegmentDefinition:
        return SegmentDefinition(name=self.name, description=self.description, rule=self.rule, marketing=self.marketing)


def merged(builtin: SegmentCatalog, stored: list[StoredSegment]) -> SegmentCatalog:
    """The catalogue in force: built-in segments, replaced, removed or added to by stored ones."""
    by_name = {s.name: s for s in builtin.segments}
    for s in sorted(stored, key=lambda s: s.name):
        if s.deleted:
            by_name.pop(s.name, None)
        else:
            by_name[s.name] = s.definition()
    versions = {s.name: s.version for s in stored if not s.deleted}
    return SegmentCatalog(segments=list(by_name.values()), families=builtin.families, versions=versions)
