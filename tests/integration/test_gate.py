"""The promotion gate through `pulse train --promote` on moto: a worse candidate never serves."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from tests.conftest import AwsStack
from tests.modelkit import shop_log
from training.__main__ import main


def _log(tmp_path: Path, name: str, shuffled: bool = False, seed: int = 1, days_later: float = 0.0) -> str:
    """The synthetic shop's log as a file (see ``shop_log``)."""
    path = tmp_path / name
    path.write_text("\n".join(json.dumps(e) for e in shop_log(60, seed, shuffled, days_later)))
    return str(path)


def _json(s3: Any, bucket: str, key: str) -> dict[str, Any]:
    return dict(json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read()))


def test_a_worse_candidate_is_published_refused_and_the_served_version_keeps_serving(
    aws_stack: AwsStack, tmp_path: Path, capsys, monkeypatch
) -> None:
    s3, bucket = aws_stack.client("s3"), aws_stack.env["MODEL_BUCKET"]
    # Given a first model trained on the shop's real behaviour: it beats the baselines and serves
    assert main(["train", "--events", _log(tmp_path, "good.jsonl"), "--bucket", bucket, "--promote"]) == 0
    served = _json(s3, bucket, "models/current.json")["version"]
    first = _json(s3, bucket, f"models/{served}/manifest.json")["gate"]
    assert first["promote"] and "nothing is served yet" in first["reason"]
    capsys.readouterr()

    # When a candidate is trained on the same log with its interactions shuffled
    bad = _log(tmp_path, "bad.jsonl", shuffled=True, days_later=1)
    rc = main(["train", "--events", bad, "--bucket", bucket, "--promote"])
    out = capsys.readouterr().out
    assert rc == 0, out

    # Then it is published as refused, with the figures and the reason, and the old version serves on
    assert _json(s3, bucket, "models/current.json")["version"] == served
    refused = [v for v in _versions(s3, bucket) if v != served]
    assert len(refused) == 1
    gate = _json(s3, bucket, f"models/{refused[0]}/manifest.json")["gate"]
    assert not gate["promote"] and gate["served_version"] == served
    assert {"candidate", "popularity", "item-knn", "served"} <= set(gate["figures"])
    assert "refused:" in out and gate["reason"] in out

    # And `pulse models` shows the refusal and its reason
    from scripts.cli import main as cli
    from scripts.cli.target import Target

    # the target is resolved from the endpoint, then left to the in-process moto already in place
    monkeypatch.setattr(Target, "apply", lambda self: os.environ.pop("AWS_ENDPOINT_URL", None))
    listing = CliRunner().invoke(cli, ["models", "--bucket", bucket], env={"AWS_ENDPOINT_URL": "http://moto"})
    assert listing.exit_code == 0, listing.output
    assert "gate: REFUSED" in listing.output and gate["reason"] in listing.output

    # And promoting it by hand needs FORCE, which the pointer records
    rc = main(["promote", "--bucket", bucket, refused[0]])
    assert rc == 1 and "the gate refused it" in capsys.readouterr().err
    assert main(["promote", "--bucket", bucket, refused[0], "--force"]) == 0
    assert _json(s3, bucket, "models/current.json")["forced"] is True


def test_a_candidate_that_beats_the_served_version_is_promoted(aws_stack: AwsStack, tmp_path: Path) -> None:
    s3, bucket = aws_stack.client("s3"), aws_stack.env["MODEL_BUCKET"]
    # Given a served version trained on shuffled interactions (forced: it beats nothing)
    bad = _log(tmp_path, "bad.jsonl", shuffled=True)
    assert main(["train", "--events", bad, "--bucket", bucket, "--promote", "--force"]) == 0
    served = _json(s3, bucket, "models/current.json")
    assert served.get("forced") is True
    # When a candidate is trained on the real behaviour of the days after, it is promoted through the gate
    good = _log(tmp_path, "good.jsonl", days_later=1)
    assert main(["train", "--events", good, "--bucket", bucket, "--promote"]) == 0
    pointer = _json(s3, bucket, "models/current.json")
    assert pointer["version"] != served["version"] and "forced" not in pointer
    gate = _json(s3, bucket, f"models/{pointer['version']}/manifest.json")["gate"]
    assert gate["promote"] and gate["figures"]["candidate"] > gate["figures"]["served"]


def _versions(s3: Any, bucket: str) -> list[str]:
    from training.publish import list_versions

    return list_versions(s3, bucket)
