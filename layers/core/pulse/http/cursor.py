"""Pagination cursors of ``GET /segments/{segment}/users``: the last user id of the previous page.

Any user id is a valid cursor (the next page starts after it), so a cursor never expires and can be
made by hand; a cursor that is not a user id is refused by the route's validation (400).
"""

from typing import Any

CURSOR_PATTERN = r"^[A-Za-z0-9_.:@-]{1,128}$"


def encode_cursor(key: dict[str, Any] | None) -> str | None:
    """The cursor of a store position (``None`` after the last page)."""
    if not key:
        return None
    user_id: str = key["user_id"]["S"]
    return user_id


def decode_cursor(cursor: str | None, segment: str) -> dict[str, Any] | None:
    """The store position that starts after the cursor's user in this segment."""
    if not cursor:
        return None
    return {"segment": {"S": segment}, "user_id": {"S": cursor}}
