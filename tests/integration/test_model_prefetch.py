"""The API's cold start: in Lambda, the promoted model downloads while the function imports, and the
holder takes those files once; anything else is read from S3 as before."""

from __future__ import annotations

import pytest

from pulse.adapters.model_prefetch import Prefetch, prefetch_promoted
from pulse.adapters.model_store import S3ModelSource, fetch_version
from pulse.config import get_settings
from pulse.recommend.artifacts import ArtifactError
from tests.conftest import AwsStack
from tests.modelkit import publish_and_promote, tiny_model


@pytest.fixture
def promoted(aws_stack: AwsStack) -> tuple[object, str]:
    s3, bucket = aws_stack.client("s3"), aws_stack.env["MODEL_BUCKET"]
    publish_and_promote(s3, bucket, tiny_model(seed=3), "v1")
    return s3, bucket


def _empty(s3: object, bucket: str, version: str) -> None:
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"models/{version}/")  # type: ignore[attr-defined]
    for item in listed["Contents"]:
        s3.delete_object(Bucket=bucket, Key=item["Key"])  # type: ignore[attr-defined]


def test_the_api_init_downloads_the_promoted_model_and_serves_it(
    aws_stack: AwsStack, promoted, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "pulse-ApiFunction")
    aws_stack.handler("ApiFunction")
    module = aws_stack.modules["ApiFunction"]
    assert isinstance(module.PREFETCH, Prefetch)
    assert module.PREFETCH.version is None  # taken during init: the model was loaded before any request
    assert module.dependencies().holder.version == "v1"


def test_the_prefetched_files_are_taken_once_for_their_version(promoted) -> None:
    s3, bucket = promoted
    prefetch = prefetch_promoted(get_settings())
    assert prefetch is not None and prefetch.version == "v1"
    source = S3ModelSource(get_settings(), prefetch)
    expected = fetch_version(s3, bucket, "v1")
    assert prefetch.take("v2") is None and prefetch.version == "v1"  # another version: not these files
    prefetch._thread.join()
    _empty(s3, bucket, "v1")  # from now on only the prefetched copy has the files
    assert source.fetch("v1") == expected
    assert prefetch.version is None
    with pytest.raises(ArtifactError):  # once: the next read of v1 goes to S3 (empty now)
        source.fetch("v1")


def test_files_nobody_took_are_let_go(promoted) -> None:
    early, late = prefetch_promoted(get_settings()), prefetch_promoted(get_settings())
    assert early is not None and late is not None
    early._thread.join()
    early.discard()  # after the download: its files are dropped
    late.discard()  # before it ends: the thread keeps nothing
    late._thread.join()
    assert early._fetched is None and late._fetched is None
    assert early.take("v1") is None and late.take("v1") is None


def test_a_failed_prefetch_leaves_the_read_and_its_error_to_the_holder(promoted) -> None:
    s3, bucket = promoted
    s3.delete_object(Bucket=bucket, Key="models/v1/ranker.json")  # listed in the manifest, missing
    prefetch = prefetch_promoted(get_settings())
    assert prefetch is not None and prefetch.take("v1") is None
    with pytest.raises(ArtifactError, match="cannot be read"):
        S3ModelSource(get_settings(), prefetch).fetch("v1")


def test_no_prefetch_outside_lambda(aws_stack: AwsStack, promoted, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    aws_stack.handler("ApiFunction")
    assert aws_stack.modules["ApiFunction"].PREFETCH is None  # tests and the local stack load on first use


def test_no_prefetch_without_a_promoted_model_or_a_bucket(aws_stack: AwsStack) -> None:
    assert prefetch_promoted(get_settings()) is None  # nothing promoted yet
    settings = get_settings().model_copy(update={"model_bucket": "no-such-bucket"})
    assert prefetch_promoted(settings) is None  # S3 unreadable now: init goes on
