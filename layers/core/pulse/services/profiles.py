"""Use cases behind the profile and segment routes."""

from pulse.domain.segments import catalog
from pulse.errors import UnknownSegment, UnknownUser
from pulse.http.cursor import decode_cursor, encode_cursor
from pulse.http.models import (
    Audience,
    FamilyMember,
    Member,
    Profile,
    SegmentFamilyInfo,
    SegmentInfo,
    SegmentList,
)
from pulse.ports import ProfileStore, SegmentDirectory


def get_profile(store: ProfileStore, user_id: str) -> Profile:
    stored = store.load(user_id)
    if stored is None or stored.is_tombstone:
        raise UnknownUser(f"no profile for user {user_id}")
    return Profile.model_validate(stored.state.profile.public_view())


def list_segments(directory: SegmentDirectory) -> SegmentList:
    cat = catalog()
    counts = directory.counts()
    segments = [
        SegmentInfo(
            name=s.name, description=s.description, marketing=s.marketing, rule=s.rule, members=counts.get(s.name, 0)
        )
        for s in cat.segments
    ]
    families = [
        SegmentFamilyInfo(
            family=fam.family,
            pattern=fam.pattern,
            description=fam.description,
            marketing=fam.marketing,
            segments=[FamilyMember(name=n, members=counts[n]) for n in sorted(counts) if cat.family_of(n) is fam],
        )
        for fam in cat.families
    ]
    return SegmentList(segments=segments, families=families)


def recount_segments(directory: SegmentDirectory) -> dict[str, int]:
    """Recount every segment's members into its counters (an operator's repair of a count).
    Returns the counts it set."""
    names = [s.name for s in catalog().segments] + directory.generated_segments()
    return {name: directory.recount(name) for name in names}


def segment_audience(directory: SegmentDirectory, segment: str, limit: int, cursor: str | None) -> Audience:
    if not catalog().is_known(segment):
        raise UnknownSegment(f"no segment named {segment}")
    page = directory.members(segment, limit, decode_cursor(cursor, segment))
    return Audience(
        segment=segment,
        users=[Member(user_id=m.user_id, joined_at=m.joined_at) for m in page.members],
        next_cursor=encode_cursor(page.last_key),
    )
