"""The runtime segment routes' answers (contract section 3c); the request body is ``SegmentBody``."""

from pydantic import BaseModel, Field

from pulse.domain.segments import Condition


class EvaluationView(BaseModel):
    status: str = Field(description="pending (waits for the next refresher run), running, or done")
    scanned: int = Field(description="Profiles evaluated by the background pass so far")
    joined: int = Field(description="Memberships the pass added (every segment of the pass)")
    left: int = Field(description="Memberships the pass removed")
    started_at: float | None
    finished_at: float | None


class SegmentView(BaseModel):
    name: str
    rule: list[Condition] = Field(description="All conditions must hold (empty for a family's generated segment)")
    description: str
    marketing: bool
    version: int = Field(description="0 for a built-in definition never changed; grows with every change")
    builtin: bool = Field(description="True while the release's own definition is in force")
    member_count: int
    evaluation: EvaluationView


class ExportAccepted(BaseModel):
    export_id: str
    status: str


class ExportView(BaseModel):
    export_id: str
    segment: str
    format: str
    fields: list[str]
    status: str = Field(description="queued, running, done or failed")
    rows: int = Field(description="Members written (so far, while running)")
    requested_at: float
    finished_at: float | None
    error: str | None
    url: str | None = Field(description="Download URL of the gzip file, once done")
    url_expires_in: int | None = Field(description="Seconds the URL works for")
