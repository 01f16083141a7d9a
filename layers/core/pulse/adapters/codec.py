"""How a profile's state is stored: zlib-compressed JSON of ``ProfileState``."""

import zlib

from pulse.domain.updater import ProfileState, dump_state, load_state


def encode_state(state: ProfileState) -> bytes:
    return zlib.compress(dump_state(state), level=6)


def decode_state(blob: bytes) -> ProfileState:
    return load_state(zlib.decompress(blob))
