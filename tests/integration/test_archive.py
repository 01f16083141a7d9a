"""The event archive (Firehose, Kinesis source -> S3) as the local stack emulates it, on moto."""

import gzip
import threading
from datetime import UTC, datetime

import boto3
from moto import mock_aws

from infrastructure.archive import FirehoseArchive, render_prefix
from infrastructure.template import load_template

STREAM_ARN = "arn:aws:kinesis:us-east-1:123456789012:stream/events"


def test_prefix_timestamps_render_like_firehose() -> None:
    at = datetime(2024, 6, 1, 9, 5, 7, tzinfo=UTC)
    assert render_prefix("events/!{timestamp:yyyy/MM/dd/HH}/", at) == "events/2024/06/01/09/"
    assert render_prefix("x/!{timestamp:yyyy-MM-dd}/y-!{timestamp:HHmmss}", at) == "x/2024-06-01/y-090507"
    assert render_prefix("plain/", at) == "plain/"


def test_the_template_archives_the_stream_as_gzip_json_lines() -> None:
    props = load_template()["Resources"]["EventArchive"]["Properties"]
    destination = props["ExtendedS3DestinationConfiguration"]
    assert props["DeliveryStreamType"] == "KinesisStreamAsSource"
    assert destination["CompressionFormat"] == "GZIP" and destination["Prefix"].startswith("events/")
    assert {"Type": "AppendDelimiterToRecord"} in destination["ProcessingConfiguration"]["Processors"]


@mock_aws
def test_records_are_written_one_per_line_when_the_buffer_is_due_and_on_stop() -> None:
    kinesis, s3 = boto3.client("kinesis", region_name="us-east-1"), boto3.client("s3", region_name="us-east-1")
    kinesis.create_stream(StreamName="events", ShardCount=2)
    s3.create_bucket(Bucket="models")
    props = {
        "KinesisStreamSourceConfiguration": {"KinesisStreamARN": STREAM_ARN},
        "ExtendedS3DestinationConfiguration": {
            "BucketARN": "arn:aws:s3:::models",
            "Prefix": "events/!{timestamp:yyyy/MM/dd/HH}/",
            "CompressionFormat": "GZIP",
            "BufferingHints": {"SizeInMBs": 1},
            "ProcessingConfiguration": {"Enabled": True, "Processors": [{"Type": "AppendDelimiterToRecord"}]},
        },
    }
    archive = FirehoseArchive("archive", props, kinesis, s3, buffer_seconds=3600)
    for n in range(5):
        kinesis.put_record(StreamName="events", Data=f'{{"n": {n}}}'.encode(), PartitionKey=f"user-{n}")
    archive.poll()
    assert not archive.due()  # an hour's buffer: nothing yet
    kinesis.put_record(StreamName="events", Data=b"x" * 1_048_576, PartitionKey="big")
    archive.poll()
    assert archive.due()  # SizeInMBs reached
    key = archive.flush()
    assert key is not None and key.startswith("events/") and key.endswith(".gz")
    lines = gzip.decompress(s3.get_object(Bucket="models", Key=key)["Body"].read()).split(b"\n")
    assert lines[-1] == b"" and len(lines) == 7  # six records, each ending in a newline
    assert {f'{{"n": {n}}}'.encode() for n in range(5)} < set(lines)
    # on stop, what is buffered is written, and nothing is read twice
    kinesis.put_record(StreamName="events", Data=b'{"n": 99}', PartitionKey="late")
    stop = threading.Event()
    stop.set()
    archive.run(stop, poll_interval=0.01)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="models")["Contents"]]
    assert len(keys) == 2 and archive.objects_written == 2
    last = next(k for k in keys if k != key)
    assert gzip.decompress(s3.get_object(Bucket="models", Key=last)["Body"].read()) == b'{"n": 99}\n'
