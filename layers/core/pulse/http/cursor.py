"""Pagination cursors of ``GET /segments/{segment}/users``: an opaque, URL-safe form of the store's
position, checked to belong to the segment asked about."""

import base64
import binascii
import json
from typing import Any

from pulse.errors import InvalidCursor


def encode_cursor(key: dict[str, Any] | None) -> str | None:
    if not key:
        return None
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode()


def decode_cursor(cursor: str | None, segment: str) -> dict[str, Any] | None:
    """A cursor from a previous page; InvalidCursor if it was not made for this segment."""
    if not cursor:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidCursor("cursor is not one this API returned") from exc
    if (
        not isinstance(key, dict)
        or set(key) != {"segment", "user_id"}
        or key.get("segment") != {"S": segment}
        or not isinstance(key.get("user_id"), dict)
        or not isinstance(key["user_id"].get("S"), str)
    ):
        raise InvalidCursor("cursor is not one this API returned for this segment")
    return key
