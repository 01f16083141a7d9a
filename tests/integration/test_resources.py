"""Resources created from template.yaml match what the template declares."""

from tests.conftest import AwsStack


def test_tables_match_declarations(aws_stack: AwsStack) -> None:
    ddb = aws_stack.client("dynamodb")
    for logical_id in ("ProfilesTable", "SegmentsTable"):
        declared = aws_stack.stack.properties(logical_id)
        table = ddb.describe_table(TableName=aws_stack.stack.resources[logical_id].ref)["Table"]
        assert table["KeySchema"] == declared["KeySchema"]
        assert sorted(table["AttributeDefinitions"], key=str) == sorted(declared["AttributeDefinitions"], key=str)
        assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
        assert table["SSEDescription"]["Status"] == "ENABLED"
        assert table["DeletionProtectionEnabled"] is True
        backups = ddb.describe_continuous_backups(TableName=table["TableName"])["ContinuousBackupsDescription"]
        assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"


def test_stream_matches_declaration(aws_stack: AwsStack) -> None:
    name = aws_stack.stack.resources["EventStream"].ref
    summary = aws_stack.client("kinesis").describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert summary["StreamModeDetails"]["StreamMode"] == aws_stack.stack.parameters["StreamMode"]
    assert summary["RetentionPeriodHours"] == int(aws_stack.stack.parameters["StreamRetentionHours"])
    assert summary["EncryptionType"] == "KMS"


def test_bucket_matches_declaration(aws_stack: AwsStack) -> None:
    s3 = aws_stack.client("s3")
    bucket = aws_stack.stack.resources["ModelBucket"].ref
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values())
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    declared = aws_stack.stack.properties("ModelBucketPolicy")["PolicyDocument"]["Statement"]
    assert any(st["Condition"]["Bool"]["aws:SecureTransport"] == "false" for st in declared)
    # moto ignores Conditions, so the local stack leaves the conditional TLS-only Deny out (see resources.py)
    s3.put_object(Bucket=bucket, Key="models/probe.json", Body=b"{}")
    assert s3.get_object(Bucket=bucket, Key="models/probe.json")["Body"].read() == b"{}"


def test_queue_matches_declaration(aws_stack: AwsStack) -> None:
    sqs = aws_stack.client("sqs")
    url = aws_stack.stack.resources["DeadLetterQueue"].ref
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["MessageRetentionPeriod"] == "1209600"
    assert attrs["SqsManagedSseEnabled"] == "true"
    assert "aws:SecureTransport" in attrs["Policy"]


def test_alarms_exist_and_notify_the_stacks_topic(aws_stack: AwsStack) -> None:
    alarms = aws_stack.client("cloudwatch").describe_alarms()["MetricAlarms"]
    single = {a["MetricName"] for a in alarms if "MetricName" in a}
    assert {"IteratorAge", "ApproximateNumberOfMessagesVisible", "5XXError", "Latency", "Errors"} <= single
    assert {"PutRecords.FailedRecords", "DeliveryToS3.DataFreshness"} <= single
    # sums over every function (errors, throttles) and both tables (read and write throttles)
    summed = {
        m["MetricStat"]["Metric"]["MetricName"] for a in alarms for m in a.get("Metrics", []) if "MetricStat" in m
    }
    assert {"Errors", "Throttles", "ReadThrottleEvents", "WriteThrottleEvents"} <= summed
    functions = {
        m["MetricStat"]["Metric"]["Dimensions"][0]["Value"]
        for a in alarms
        if a["AlarmName"].endswith("FunctionThrottlesAlarm")
        for m in a["Metrics"]
        if "MetricStat" in m
    }
    assert functions == {r.ref for r in aws_stack.stack.resources.values() if r.type == "AWS::Serverless::Function"}
    template = aws_stack.stack.template["Resources"]
    for name, spec in template.items():
        if spec["Type"] == "AWS::CloudWatch::Alarm":
            assert "AlarmTopic" in str(spec["Properties"]["AlarmActions"]), name
    refresher = next(a for a in alarms if a["AlarmName"].endswith("SegmentRefresherErrorsAlarm"))
    assert refresher["Dimensions"] == [
        {"Name": "FunctionName", "Value": aws_stack.stack.resources["SegmentRefresherFunction"].ref}
    ]
    trainer = next(a for a in alarms if a["AlarmName"].endswith("TrainingFailedAlarm"))
    trainer_name = aws_stack.stack.resources["TrainerFunction"].ref
    assert trainer["Dimensions"] == [{"Name": "FunctionName", "Value": trainer_name}]


def test_functions_get_the_template_environment(aws_stack: AwsStack) -> None:
    env = aws_stack.specs["ProfileUpdaterFunction"].environment
    assert env["PROFILES_TABLE"] == aws_stack.stack.resources["ProfilesTable"].ref
    assert env["DEAD_LETTER_QUEUE_URL"] == aws_stack.stack.resources["DeadLetterQueue"].ref
    assert env["POWERTOOLS_SERVICE_NAME"] == "pulse"


def test_event_archive_reads_the_stream_into_the_bucket(aws_stack: AwsStack) -> None:
    resources = aws_stack.stack.resources
    name = resources["EventArchive"].ref
    described = aws_stack.client("firehose").describe_delivery_stream(DeliveryStreamName=name)
    stream = described["DeliveryStreamDescription"]
    assert stream["DeliveryStreamType"] == "KinesisStreamAsSource"
    assert (
        stream["Source"]["KinesisStreamSourceDescription"]["KinesisStreamARN"]
        == resources["EventStream"].attributes["Arn"]
    )
    destination = stream["Destinations"][0]["ExtendedS3DestinationDescription"]
    assert destination["BucketARN"] == resources["ModelBucket"].attributes["Arn"]
    assert destination["RoleARN"] == resources["EventArchiveRole"].attributes["Arn"]
    role = aws_stack.client("iam").get_role(RoleName=resources["EventArchiveRole"].ref)["Role"]
    assert role["Arn"] == resources["EventArchiveRole"].attributes["Arn"]


def test_event_archive_expires_only_when_a_retention_is_set(aws_stack: AwsStack) -> None:
    import boto3

    from infrastructure.resources import _bucket
    from infrastructure.template import Stack, load_template

    s3 = aws_stack.client("s3")
    kept = s3.get_bucket_lifecycle_configuration(Bucket=aws_stack.stack.resources["ModelBucket"].ref)["Rules"]
    assert [r["ID"] for r in kept] == ["expire-old-pointer-versions"]  # default 0: the archive is kept
    stack = Stack(load_template(), name="pulse-retention", parameters={"ArchiveExpirationDays": "30"})
    bucket = _bucket(stack, "ModelBucket", lambda service: boto3.client(service, region_name="us-east-1")).ref  # type: ignore[call-overload]
    rules = {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]}
    assert rules["expire-archived-events"]["Filter"] == {"Prefix": "events/"}
    assert rules["expire-archived-events"]["Expiration"] == {"Days": 30}
    assert rules["expire-failed-archive-deliveries"]["Filter"] == {"Prefix": "events-errors/"}
    assert "Expiration" not in rules["expire-old-pointer-versions"]  # models/ are never expired
