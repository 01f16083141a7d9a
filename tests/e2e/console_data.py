"""A local stack with something to show: a served model and an older one, shoppers' profiles, a
flagged user, a runtime segment, an experiment with exposures and clicks."""

import time
import uuid
from typing import Any

import requests

from infrastructure.local_stack import LocalStack
from tests.e2e.test_local_stack import wait_for
from tests.modelkit import manifest_for, publish_and_promote, shop_log, tiny_model
from training.publish import publish

SHOPPER = "u3"  # a user of the synthetic shop, with a profile the model knows
FLAGGED = "bot-7"
SEGMENT = "console_fans"
EXPERIMENT = "console_ab"


def send(api: str, events: list[dict[str, Any]]) -> None:
    for start in range(0, len(events), 500):
        answer = requests.post(f"{api}/events", json={"events": events[start : start + 500]}, timeout=30).json()
        assert not answer["rejected"], answer


def event(user: str, kind: str, item: str | None = None, **extra: Any) -> dict[str, Any]:
    body = {"event_id": str(uuid.uuid4()), "event_type": kind, "user_id": user, "timestamp": time.time()} | extra
    return body | ({"item_id": item} if item else {})


def seed(stack: LocalStack) -> None:
    api, s3, bucket = stack.api_url, stack.client("s3"), stack.outputs()["ModelBucketName"]
    older = tiny_model(seed=2)
    publish(s3, bucket, "v0-older", older.files, manifest_for("v0-older", older))
    publish_and_promote(s3, bucket, tiny_model(seed=1), "v1-served")
    send(api, shop_log(users=30))  # more members than a page of the console (25)
    send(api, [event(FLAGGED, "ad_click", f"m{n}") for n in range(4)])
    send(api, [event(FLAGGED, "purchase", "m2", value=1500.0)])
    rule: dict[str, Any] = {
        "rule": [{"feature": "sessions", "op": ">=", "value": 1}],
        "description": "Came at least once",
    }
    assert requests.put(f"{api}/segments/{SEGMENT}", json=rule, timeout=30).status_code in (200, 201)
    arms = [
        {"name": "control", "weight": 1, "serve": {"strategy": "default"}},
        {"name": "popular", "weight": 1, "serve": {"strategy": "popular"}},
    ]
    body: dict[str, Any] = {"description": "Personal against popular", "variants": arms}
    assert requests.put(f"{api}/experiments/{EXPERIMENT}", json=body, timeout=30).status_code == 201
    clicks = []
    for n in range(12):
        answer = requests.get(f"{api}/users/u{n}/recommendations", params={"k": "5"}, timeout=30).json()
        if n % 2 == 0 and answer["items"]:
            item = answer["items"][0]["item_id"]
            clicks.append(event(f"u{n}", "click", item, recommendation_id=answer["recommendation_id"]))
    send(api, clicks)

    def settled() -> bool:
        profile = requests.get(f"{api}/users/{FLAGGED}/profile", timeout=30)
        members = requests.get(f"{api}/segments/risk_flagged/users", timeout=30).json()
        return profile.status_code == 200 and any(m["user_id"] == FLAGGED for m in members["users"])

    assert wait_for(settled), "the flagged user never reached risk_flagged"
