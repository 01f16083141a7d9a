"""What the stack can tell about itself (the console's overview): users, dead letters, alarms.

Each figure is read with one call and is ``None`` when it cannot be read (no permission, no such
resource, a local stack without it): the overview says "unknown" rather than failing.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from pulse.adapters.aws import client
from pulse.config import Settings

MAX_ALARMS = 20


class AwsStackHealth:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def _client(self, service: str) -> Any:
        return client(service, self._settings.region, self._settings.endpoint_url)

    def users(self) -> int | None:
        """The profiles table's item count (DynamoDB refreshes it about every six hours)."""
        try:
            table = self._client("dynamodb").describe_table(TableName=self._settings.profiles_table)["Table"]
        except (ClientError, BotoCoreError):
            return None
        count = table.get("ItemCount")
        return int(count) if count is not None else None

    def dead_letters_waiting(self) -> int | None:
        if not self._settings.dead_letter_queue_url:
            return None
        try:
            answer = self._client("sqs").get_queue_attributes(
                QueueUrl=self._settings.dead_letter_queue_url, AttributeNames=["ApproximateNumberOfMessages"]
            )
        except (ClientError, BotoCoreError):
            return None
        return int(answer.get("Attributes", {}).get("ApproximateNumberOfMessages", 0))

    def alarms_firing(self) -> list[dict[str, Any]] | None:
        """The stack's alarms in ALARM (names start with the stack's name, as CloudFormation makes them)."""
        if not self._settings.stack_name:
            return None
        try:
            answer = self._client("cloudwatch").describe_alarms(
                AlarmNamePrefix=f"{self._settings.stack_name}-", StateValue="ALARM", MaxRecords=MAX_ALARMS
            )
        except (ClientError, BotoCoreError):
            return None
        return [
            {
                "name": alarm["AlarmName"],
                "reason": alarm.get("StateReason", ""),
                "since": alarm["StateUpdatedTimestamp"].timestamp() if alarm.get("StateUpdatedTimestamp") else None,
            }
            for alarm in answer.get("MetricAlarms", []) + answer.get("CompositeAlarms", [])
            if alarm.get("StateValue") == "ALARM"  # moto ignores the filter
        ]
