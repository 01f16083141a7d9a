"""How a profile's state is stored: JSON of ``ProfileState``, compressed with Zstandard (level 1).

Profiles written before were zlib-compressed; a blob is told apart by its first bytes (a Zstandard
frame starts with its magic number, a zlib stream never does), so those still load and are rewritten
in the new form on their next change. Why Zstandard at level 1: docs/decisions/0010-profile-codec.md.
"""

import threading
import zlib

from backports import zstd  # Python 3.14's compression.zstd, for the 3.12 runtime

from pulse.domain.updater import ProfileState, dump_state, load_state

LEVEL = 1
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


class UndecodableState(ValueError):
    """The blob is not a stored profile state (damaged, or not written by this codec)."""


_LOCAL = threading.local()


def encode_state(state: ProfileState) -> bytes:
    """One Zstandard frame; each thread reuses its compressor (the module's ``compress`` makes a new
    one per call, which cost 20 us of a 105 us write of a grown profile), with the same bytes out."""
    compressor = getattr(_LOCAL, "compressor", None)
    if compressor is None:
        compressor = _LOCAL.compressor = zstd.ZstdCompressor(level=LEVEL)
    return compressor.compress(dump_state(state), mode=zstd.ZstdCompressor.FLUSH_FRAME)


def decode_state(blob: bytes) -> ProfileState:
    """The stored state; ``UndecodableState`` with the cause if the blob is not one."""
    try:
        raw = zstd.decompress(blob) if blob[:4] == _ZSTD_MAGIC else zlib.decompress(blob)
        return load_state(raw)
    except (zstd.ZstdError, zlib.error, ValueError) as exc:
        raise UndecodableState(str(exc)) from exc
