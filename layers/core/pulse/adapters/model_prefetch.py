"""The promoted model's files, read while the API function is still initialising.

A cold start of the API function imports its modules (most of a second of CPU) and then reads the
promoted model from S3 (a 1M-item model: about 270 MB). Neither needs the other: ``Prefetch`` reads the
pointer in the caller's thread, then downloads and hashes that version's files on a thread while the
function goes on importing and building its clients. ``S3ModelSource.fetch`` takes the files for that
version once; any other version, or a prefetch that failed, is read again as usual (and fails there
with its own error). Only the first load of a process uses it: later versions are read when due.
"""

import logging
import threading
from typing import TYPE_CHECKING

from pulse.adapters.aws import s3_client
from pulse.adapters.model_store import fetch_version, read_pointer
from pulse.config import Settings
from pulse.recommend.artifacts import Fetched

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

log = logging.getLogger(__name__)


class Prefetch:
    """One version's files, read on a daemon thread; ``take`` hands them over once, ``discard`` lets
    them go if nothing took them (a whole model must not stay in memory beside the one served)."""

    def __init__(self, s3: "S3Client", bucket: str, version: str) -> None:
        self.version: str | None = version
        self._fetched: Fetched | None = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(
            target=self._read, args=(s3, bucket, version), name="model-prefetch", daemon=True
        )
        self._thread.start()

    def _read(self, s3: "S3Client", bucket: str, version: str) -> None:
        try:
            fetched = fetch_version(s3, bucket, version)
        except Exception as exc:  # noqa: BLE001  # the holder reads the version again and reports why
            log.info("model prefetch failed: %s", exc)
            return
        with self._lock:
            self._fetched = fetched if self.version is not None else None

    def take(self, version: str) -> Fetched | None:
        """The files of ``version`` if that is what was prefetched (waits for the download), once."""
        if version != self.version:
            return None
        self._thread.join()
        with self._lock:
            fetched, self._fetched, self.version = self._fetched, None, None
        return fetched

    def discard(self) -> None:
        """Nothing takes the files from now on (init is over: the pointer may have moved meanwhile)."""
        with self._lock:
            self._fetched, self.version = None, None


def prefetch_promoted(settings: Settings) -> Prefetch | None:
    """Start reading the promoted version (the API's init, in Lambda); None when nothing is promoted
    or S3 cannot be read now. The pointer is read here, in the caller's thread: the SDK's lazily
    imported modules for a GetObject are imported before the thread starts, not while the caller
    imports others."""
    try:
        s3 = s3_client(settings)
        pointer = read_pointer(s3, settings.model_bucket)
    except Exception as exc:  # noqa: BLE001  # init must never fail: the first request reads the model
        log.info("no model prefetch: %s", exc)
        return None
    return Prefetch(s3, settings.model_bucket, pointer["version"]) if pointer else None
