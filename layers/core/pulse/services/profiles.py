"""Use cases behind the profile and segment routes."""

from typing import Any

from pulse.adapters.ports import ProfileStore, SegmentDirectory
from pulse.domain.segments import catalog


class UnknownUser(LookupError):
    pass


class UnknownSegment(LookupError):
    pass


def get_profile(store: ProfileStore, user_id: str) -> dict[str, Any]:
    stored = store.load(user_id)
    if stored is None:
        raise UnknownUser(user_id)
    return stored.state.profile.public_view()


def erase_user(store: ProfileStore, user_id: str) -> bool:
    """Erase the profile, idempotency state and memberships; idempotent (False: nothing stored)."""
    return store.erase(user_id)


def list_segments(directory: SegmentDirectory) -> dict[str, Any]:
    cat = catalog()
    counts = directory.counts()
    segments = [s | {"members": counts.get(s["name"], 0)} for s in cat.describe()]
    families = []
    for fam in cat.families:
        names = [n for n in counts if cat.family_of(n) is fam]
        families.append(
            {
                "family": fam.family,
                "pattern": fam.pattern,
                "description": fam.description,
                "marketing": fam.marketing,
                "segments": [{"name": n, "members": counts.get(n, 0)} for n in sorted(names)],
            }
        )
    return {"segments": segments, "families": families}


def recount_segments(directory: SegmentDirectory) -> dict[str, int]:
    """Recount every segment's members into its counters: once after upgrading a stack whose
    memberships predate the counters, or to repair a count. Returns the counts it set."""
    names = [s["name"] for s in catalog().describe()] + directory.generated_segments()
    return {name: directory.recount(name) for name in names}


def segment_audience(directory: SegmentDirectory, segment: str, limit: int, cursor: str | None) -> dict[str, Any]:
    if not catalog().is_known(segment):
        raise UnknownSegment(segment)
    page = directory.members(segment, limit, cursor)
    return {"segment": segment, "users": page.items, "next_cursor": page.cursor}
