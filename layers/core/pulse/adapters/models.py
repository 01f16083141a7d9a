"""S3 model store: the promotion pointer (``models/current.json``) names the version being served."""

import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from pulse.adapters.aws import client
from pulse.config import Settings

POINTER_KEY = "models/current.json"


class ModelPointerReader:
    def __init__(self, settings: Settings) -> None:
        self._s3 = client("s3", settings.region, settings.endpoint_url)
        self._bucket = settings.model_bucket

    def current_version(self) -> str | None:
        """The promoted version, or None when nothing has been promoted (or S3 is unreachable)."""
        try:
            body = self._s3.get_object(Bucket=self._bucket, Key=POINTER_KEY)["Body"].read()
            pointer: Any = json.loads(body)
        except (ClientError, BotoCoreError, ValueError):
            return None
        version = pointer.get("version") if isinstance(pointer, dict) else None
        return version if isinstance(version, str) else None
