"""Create the template's resources in moto (or any endpoint), from ``template.yaml`` alone.

Data resources (tables, stream, bucket, queue, their policies, log groups, alarms) are created with the
properties the template declares. Functions, the layer and the API are hosted by the local stack itself
(``infrastructure.functions`` / ``infrastructure.api_gateway``) because moto cannot run Lambda code
without Docker.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from infrastructure.template import ACCOUNT_ID, PhysicalResource, Stack

ClientFactory = Callable[[str], Any]

DATA_TYPES = (
    "AWS::SQS::Queue",
    "AWS::Kinesis::Stream",
    "AWS::DynamoDB::Table",
    "AWS::S3::Bucket",
    "AWS::Logs::LogGroup",
    "AWS::IAM::Role",
    "AWS::KinesisFirehose::DeliveryStream",  # after the stream, bucket and role it names
    "AWS::SNS::Topic",
    "AWS::SNS::Subscription",  # after its topic
    "AWS::Events::EventBus",
    "AWS::Events::Rule",  # after the bus and the queues and topics it targets
)
HOSTED_TYPES = ("AWS::Serverless::Function", "AWS::Serverless::LayerVersion", "AWS::Serverless::Api")


def physical_name(stack: Stack, logical_id: str) -> str:
    """Deterministic names, as CloudFormation would generate unique ones: ``<stack>-<logical id>``."""
    return f"{stack.name}-{logical_id}".lower() if logical_id.endswith("Bucket") else f"{stack.name}-{logical_id}"


def create_all(stack: Stack, clients: ClientFactory) -> dict[str, PhysicalResource]:
    """Create every data resource, then the policies and alarms that refer to them."""
    creators: dict[str, Callable[[Stack, str, ClientFactory], PhysicalResource]] = {
        "AWS::SQS::Queue": _queue,
        "AWS::Kinesis::Stream": _stream,
        "AWS::DynamoDB::Table": _table,
        "AWS::S3::Bucket": _bucket,
        "AWS::Logs::LogGroup": _log_group,
        "AWS::IAM::Role": _role,
        "AWS::KinesisFirehose::DeliveryStream": _delivery_stream,
        "AWS::SNS::Topic": _topic,
        "AWS::SNS::Subscription": _subscription,
        "AWS::Events::EventBus": _event_bus,
        "AWS::Events::Rule": _rule,
    }
    for type_ in DATA_TYPES:
        # a queue that names a dead-letter queue (RedrivePolicy) after the queues it may name
        specs = stack.resource_specs(type_)
        ordered = sorted(specs, key=lambda i: "RedrivePolicy" in specs[i].get("Properties", {}))
        for logical_id in ordered:
            stack.resources[logical_id] = creators[type_](stack, logical_id, clients)
    for logical_id, spec in stack.resource_specs().items():
        if spec["Type"] in HOSTED_TYPES:
            stack.resources[logical_id] = _hosted(stack, logical_id, spec["Type"])
    for logical_id in stack.resource_specs("AWS::S3::BucketPolicy"):
        props = stack.properties(logical_id)
        clients("s3").put_bucket_policy(
            Bucket=props["Bucket"], Policy=json.dumps(local_policy(props["PolicyDocument"]))
        )
    for logical_id in stack.resource_specs("AWS::SQS::QueuePolicy"):
        props = stack.properties(logical_id)
        for url in props["Queues"]:
            clients("sqs").set_queue_attributes(
                QueueUrl=url, Attributes={"Policy": json.dumps(props["PolicyDocument"])}
            )
    for logical_id in stack.resource_specs("AWS::CloudWatch::Alarm"):
        props = stack.properties(logical_id)
        alarm = {k: v for k, v in props.items() if k not in ("AlarmActions",)}
        alarm["Dimensions"] = [{"Name": d["Name"], "Value": str(d["Value"])} for d in props.get("Dimensions", [])]
        alarm["AlarmName"] = physical_name(stack, logical_id)
        alarm["ActionsEnabled"] = False
        clients("cloudwatch").put_metric_alarm(**alarm)
        stack.resources[logical_id] = PhysicalResource(logical_id, "AWS::CloudWatch::Alarm", alarm["AlarmName"])
    for logical_id in stack.resource_specs("AWS::CloudWatch::Dashboard"):
        props = stack.properties(logical_id)  # the body with every ${...} resolved, as CloudFormation sends it
        clients("cloudwatch").put_dashboard(DashboardName=props["DashboardName"], DashboardBody=props["DashboardBody"])
        stack.resources[logical_id] = PhysicalResource(logical_id, "AWS::CloudWatch::Dashboard", props["DashboardName"])
    return stack.resources


def local_policy(document: dict[str, Any]) -> dict[str, Any]:
    """The bucket policy as moto can enforce it. moto ignores ``Condition`` blocks, so a conditional Deny
    (our TLS-only rule) would deny every request; such statements are left out locally (the local
    endpoint is plain HTTP on loopback anyway) and kept, as declared, on AWS."""
    statements = [s for s in document.get("Statement", []) if not (s.get("Effect") == "Deny" and "Condition" in s)]
    return {**document, "Statement": statements}


def _arn(stack: Stack, service: str, resource: str) -> str:
    return f"arn:aws:{service}:{stack.region}:{ACCOUNT_ID}:{resource}"


def _queue(stack: Stack, logical_id: str, clients: ClientFactory) -> PhysicalResource:
    props = stack.properties(logical_id)
    name = props.get("QueueName") or physical_name(stack, logical_id)
    if props.get("FifoQueue") and not name.endswith(".fifo"):
        name += ".fifo"  # as CloudFormation names a FIFO queue
    attrs = {
        k: json.dumps(v) if isinstance(v, dict) else str(v).lower() if isinstance(v, bool) else str(v)
        for k, v in props.items()
        if k != "QueueName"
    }
    url = clients("sqs").create_queue(QueueName=name, Attributes=attrs)["QueueUrl"]
    arn = _arn(stack, "sqs", name)
    return PhysicalResource(logical_id, "AWS::SQS::Queue", url, {"Arn": arn, "QueueName": name, "QueueUrl": url})


def _stream(stack: Stack, logical_id: str, clients: ClientFactory) -> PhysicalResource:
    props = stack.properties(logical_id)
    name = props.get("Name") or physical_name(stack, logical_id)
    kinesis = clients("kinesis")
    mode = props.get("StreamModeDetails", {}).get("StreamMode", "PROVISIONED")
    if mode == "ON_DEMAND":
        kinesis.create_stream(StreamName=name, StreamModeDetails={"StreamMode": "ON_DEMAND"})
    else:
        kinesis.create_stream(StreamName=name, ShardCount=int(props.get("ShardCount", 1)))
    hours = int(props.get("RetentionPeriodHours", 24))
    if hours > 24:
        kinesis.increase_stream_retention_period(StreamName=name, RetentionPeriodHours=hours)
    encryption = props.get("StreamEncryption")
    if encryption:
        kinesis.start_stream_encryption(
            StreamName=name, EncryptionType=encryption["EncryptionType"], KeyId=encryption["KeyId"]
        )
    arn = _arn(stack, "kinesis", f"stream/{name}")
    return PhysicalResource(logical_id, "AWS::Kinesis::Stream", name, {"Arn": arn})


def _table(stack: Stack, logical_id: str, clients: ClientFactory) -> PhysicalResource:
    props = stack.properties(logical_id)
    name = props.get("TableName") or physical_name(stack, logical_id)
    ddb = clients("dynamodb")
    args: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": props.get("BillingMode", "PROVISIONED"),
    }
    for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes", "StreamSpecification"):
        if key in props:
            args[key] = props[key]
    if "SSESpecification" in props:
        args["SSESpecification"] = {"Enabled": bool(props["SSESpecification"].get("SSEEnabled"))}
    if "DeletionProtectionEnabled" in props:
        args["DeletionProtectionEnabled"] = bool(props["DeletionProtectionEnabled"])
    ddb.create_table(**args)
    if props.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled"):
        ddb.update_continuous_backups(
            TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )
    ttl = props.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        ddb.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True}
        )
    arn = _arn(stack, "dynamodb", f"table/{name}")
    return PhysicalResource(logical_id, "AWS::DynamoDB::Table", name, {"Arn": arn})


def _bucket(stack: Stack, logical_id: str, clients: ClientFactory) -> PhysicalResource:
    props = stack.properties(logical_id)
    name = props.get("BucketName") or physical_name(stack, logical_id)
    s3 = clients("s3")
    if stack.region == "us-east-1":
        s3.create_bucket(Bucket=name)
    else:
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": stack.region})
    if "VersioningConfiguration" in props:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration=props["VersioningConfiguration"])
    if "PublicAccessBlockConfiguration" in props:
        s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"])
    if "BucketEncryption" in props:
        s3.put_bucket_encryption(
            Bucket=name,
            ServerSideEncryptionConfiguration={
                "Rules": [
                    {"ApplyServerSideEncryptionByDefault": r["ServerSideEncryptionByDefault"]}
                    | ({"BucketKeyEnabled": r["BucketKeyEnabled"]} if "BucketKeyEnabled" in r else {})
                    for r in props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
                ]
            },
        )
    if "OwnershipControls" in props:
        s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls=props["OwnershipControls"])
    if "LifecycleConfiguration" in props:
        rules = []
        for rule in props["LifecycleConfiguration"]["Rules"]:
            out: dict[str, Any] = {
                "ID": rule["Id"],
                "Status": rule["Status"],
                "Filter": {"Prefix": rule.get("Prefix", "")},
            }
            if "NoncurrentVersionExpiration" in rule:
                out["NoncurrentVersionExpiration"] = rule["NoncurrentVersionExpiration"]
            if "ExpirationInDays" in rule:
                out["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
            rules.append(out)
        s3.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={"Rules": rules})
    arn = f"arn:aws:s3:::{name}"
    return PhysicalResource(logical_id, "AWS::S3::Bucket", name, {"Arn": arn, "DomainName": f"{name}.s3.amazonaws.com"})


def _log_group(stack: Stack, logical_id: str, clients: ClientFactory) -> PhysicalResource:
    props = stack.properties(logical_id)
    name = props.get("LogGroupName") or f"/pulse/{physical_name(stack, logical_id)}"
    logs = clients("logs")
    logs.create_log_group(logGroupName=name)
    if "RetentionInDays" in props:
        logs.put_retention_policy(logGroupName=name, retentionInDays=int(props["RetentionInDays"]))
    arn = _arn(stack, "logs", f"log-group:{name}")
    return PhysicalResource(logical_id, "AWS::Logs::LogGroup", name, {"Arn": arn})


def _role(stack: Stack, logical_id: str, clients: ClientFactory) -> PhysicalResource:
    props, name = stack.properties(logical_id), physical_name(stack, logical_id)
    iam = clients("iam")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(props["AssumeRolePolicyDocument"]))
    arn = f"arn:aws:iam::{ACCOUNT_ID}:role/{name}"
    for policy in props.get("Policies", []):
        iam.put_role_policy(
            RoleName=name, PolicyName=policy["PolicyName"], PolicyDocument=json.dumps(policy["PolicyDocument"])
        )
    return PhysicalResource(logical_id, "AWS::IAM::Role", name, {"Arn": arn})


def _delivery_stream(stack: Stack, logical_id: str, clients: ClientFactory) -> PhysicalResource:
    """Created in moto as declared; moto does not deliver, so the local stack runs
    ``infrastructure.archive`` for it."""
    props, name = stack.properties(logical_id), physical_name(stack, logical_id)
    clients("firehose").create_delivery_stream(
        DeliveryStreamName=name,
        DeliveryStreamType=props["DeliveryStreamType"],
        KinesisStreamSourceConfiguration=props["KinesisStreamSourceConfiguration"],
        ExtendedS3DestinationConfiguration=props["ExtendedS3DestinationConfiguration"],
    )
    arn = _arn(stack, "firehose", f"deliverystream/{name}")
    return PhysicalResource(logical_id, "AWS::KinesisFirehose::DeliveryStream", name, {"Arn": arn})


def _topic(stack: Stack, logical_id: str, clients: ClientFactory) -> PhysicalResource:
    arn = clients("sns").create_topic(Name=physical_name(stack, logical_id))["TopicArn"]
    return PhysicalResource(logical_id, "AWS::SNS::Topic", arn, {"TopicName": arn.rsplit(":", 1)[-1]})


def _subscription(stack: Stack, logical_id: str, clients: ClientFactory) -> PhysicalResource:
    props = stack.properties(logical_id)
    found = clients("sns").subscribe(TopicArn=props["TopicArn"], Protocol=props["Protocol"], Endpoint=props["Endpoint"])
    return PhysicalResource(logical_id, "AWS::SNS::Subscription", found["SubscriptionArn"])


def _event_bus(stack: Stack, logical_id: str, clients: ClientFactory) -> PhysicalResource:
    name = stack.properties(logical_id).get("Name") or physical_name(stack, logical_id)
    clients("events").create_event_bus(Name=name)
    arn = _arn(stack, "events", f"event-bus/{name}")
    return PhysicalResource(logical_id, "AWS::Events::EventBus", name, {"Arn": arn, "Name": name})


def _rule(stack: Stack, logical_id: str, clients: ClientFactory) -> PhysicalResource:
    """A rule on a bus with its targets. moto delivers matching events to SQS (and log group) targets
    and fails a whole ``PutEvents`` for any other (SNS, enabled or not): those are left out locally."""
    props = stack.properties(logical_id)
    events, name = clients("events"), physical_name(stack, logical_id)
    bus = props.get("EventBusName", "default")
    events.put_rule(
        Name=name,
        EventBusName=bus,
        EventPattern=json.dumps(props["EventPattern"]),
        State=props.get("State", "ENABLED"),
        Description=props.get("Description", ""),
    )
    arn = _arn(stack, "events", f"rule/{bus}/{name}")
    targets = [{"Id": t["Id"], "Arn": t["Arn"]} for t in props.get("Targets", []) if ":sqs:" in t["Arn"]]
    if targets:
        events.put_targets(Rule=name, EventBusName=bus, Targets=targets)
    return PhysicalResource(logical_id, "AWS::Events::Rule", name, {"Arn": arn})


def _hosted(stack: Stack, logical_id: str, type_: str) -> PhysicalResource:
    name = physical_name(stack, logical_id)
    if type_ == "AWS::Serverless::Function":
        arn = _arn(stack, "lambda", f"function:{name}")
        return PhysicalResource(logical_id, type_, name, {"Arn": arn})
    if type_ == "AWS::Serverless::Api":
        return PhysicalResource(logical_id, type_, "local", {"RootResourceId": "local"})
    return PhysicalResource(logical_id, type_, _arn(stack, "lambda", f"layer:{name}:1"))
