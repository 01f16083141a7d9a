"""Infrastructure assertions on template.yaml (the single source of every resource)."""

import json
import re
from pathlib import Path

import pytest

from infrastructure.functions import function_specs
from infrastructure.resources import create_all
from infrastructure.template import ROOT, Stack, load_template
from pulse.config import Settings

TEMPLATE = load_template()
RESOURCES = TEMPLATE["Resources"]
FUNCTIONS = {k: v for k, v in RESOURCES.items() if v["Type"] == "AWS::Serverless::Function"}


def offline_stack(template: dict | None = None) -> Stack:
    """Resolve the template without any AWS calls (resources get their local physical names)."""

    class NoAws:
        def __getattr__(self, name: str):
            return lambda **kwargs: {
                "QueueUrl": "http://local/queue",
                "TopicArn": "arn:aws:sns:us-east-1:123456789012:t",
            }

    stack = Stack(TEMPLATE if template is None else template, name="t")
    create_all(stack, lambda service: NoAws())
    return stack


def test_every_function_has_its_handler_file() -> None:
    # Given the template's functions / Then each handler module and function exist on disk
    for logical_id, spec in function_specs(offline_stack()).items():
        source = spec.module_file.read_text()
        assert f"def {spec.handler_name}(" in source, logical_id


def test_every_environment_variable_is_a_setting() -> None:
    # Configuration is read in one place: each variable the template sets is a Settings field.
    aliases = {f.alias for f in Settings.model_fields.values()}
    env = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    for name in env:
        assert name.startswith("POWERTOOLS_") or name in aliases, name


def test_ad_impressions_tracked_is_a_template_parameter_read_as_a_boolean() -> None:
    variables = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["AD_IMPRESSIONS_TRACKED"] == {"Ref": "AdImpressionsTracked"}
    assert TEMPLATE["Parameters"]["AdImpressionsTracked"]["Default"] == "true"
    assert Settings.model_validate({}).ad_impressions_tracked is True
    assert Settings.model_validate({"AD_IMPRESSIONS_TRACKED": "false"}).ad_impressions_tracked is False


def test_iam_statements_name_their_resources() -> None:
    text = (ROOT / "template.yaml").read_text()
    assert not re.search(r"Resource:\s*['\"]?\*['\"]?\s*$", text, re.M)


def of_type(kind: str) -> dict[str, dict]:
    return {k: v for k, v in RESOURCES.items() if v["Type"] == kind}


def test_every_stream_trigger_reports_failures_per_record_and_never_loses_a_batch() -> None:
    # Given every Kinesis event source of every function (a new one must keep the same guarantees)
    sources = [
        (fn, name, event["Properties"])
        for fn, spec in FUNCTIONS.items()
        for name, event in spec["Properties"].get("Events", {}).items()
        if event["Type"] == "Kinesis"
    ] + [(spec["Properties"]["FunctionName"], name, spec["Properties"]) for name, spec in of_type(MAPPING).items()]
    assert sources
    for fn, name, props in sources:
        # partial batch responses + bisection: one bad record never holds back the others
        assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"], (fn, name)
        assert props["BisectBatchOnFunctionError"] is True, (fn, name)
        # retries and age are bounded, and what runs out of them goes to the dead-letter queue
        assert props["MaximumRetryAttempts"] not in (None, -1), (fn, name)
        on_failure = props["DestinationConfig"]["OnFailure"]
        assert on_failure.get("Type", "SQS") == "SQS", (fn, name)
        assert on_failure["Destination"] == {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}, (fn, name)


MAPPING = "AWS::Lambda::EventSourceMapping"


def test_no_function_gets_an_account_wide_managed_policy_or_a_sam_crud_template() -> None:
    # SAM's Kinesis event attaches AWSLambdaKinesisExecutionRole (every stream); Crud/Read templates
    # grant scans, deletes and whole buckets. Each function lists what it uses instead.
    for fn, spec in FUNCTIONS.items():
        events = spec["Properties"].get("Events", {}).values()
        assert not [e for e in events if e["Type"] == "Kinesis"], fn
        for policy in spec["Properties"].get("Policies", []):
            assert not set(policy) & {"DynamoDBCrudPolicy", "S3ReadPolicy", "S3CrudPolicy", "KinesisCrudPolicy"}, fn
    granted = {
        fn: {a for p in spec["Properties"].get("Policies", []) for st in p.get("Statement", []) for a in _actions(st)}
        for fn, spec in FUNCTIONS.items()
    }
    # the raw-event archive is read only to erase users and to retrain
    assert [fn for fn in FUNCTIONS if _reads_archive(fn)] == ["EraserFunction", "TrainerFunction"]
    # no request scans a table; only the refresher's background pass over every profile's key does
    # (a changed segment definition applied to existing profiles, paginated and resumable)
    assert [fn for fn, actions in granted.items() if "dynamodb:Scan" in actions] == ["SegmentRefresherFunction"]
    scans = [
        st["Resource"]
        for p in FUNCTIONS["SegmentRefresherFunction"]["Properties"]["Policies"]
        for st in p["Statement"]
        if "dynamodb:Scan" in _actions(st)
    ]
    assert scans == [{"Fn::GetAtt": ["ProfilesTable", "Arn"]}]


def _actions(statement: dict) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


def _reads_archive(fn: str) -> bool:
    """Whether a function may read under events/ (only the eraser, which rewrites it, may)."""
    for policy in FUNCTIONS[fn]["Properties"].get("Policies", []):
        for statement in policy.get("Statement", []):
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            if "s3:GetObject" in _actions(statement) and any("events/" in json.dumps(r) for r in resources):
                return True
    return False


def test_routes_match_the_contract_and_only_health_and_the_console_are_public() -> None:
    specs = function_specs(offline_stack())
    routes = {(r.method, r.path): r.api_key_required for s in specs.values() for r in s.routes}
    public = {("GET", "/health"), ("GET", "/console"), ("GET", "/console/{asset}")}
    assert all(routes[route] is False for route in public)
    expected = {
        ("GET", "/users/{user_id}/profile"),
        ("DELETE", "/users/{user_id}"),
        ("GET", "/segments"),
        ("GET", "/segments/{segment}/users"),
        ("POST", "/events"),
        ("GET", "/overview"),
        ("GET", "/models"),
    }
    assert expected <= set(routes)
    assert all(required for route, required in routes.items() if route not in public)


def test_every_store_of_user_data_is_encrypted_and_survives_a_stack_deletion() -> None:
    tables = of_type("AWS::DynamoDB::Table")
    assert len(tables) >= 2
    for name, spec in tables.items():
        props = spec["Properties"]
        assert spec["DeletionPolicy"] == "Retain" and props["DeletionProtectionEnabled"] is True, name
        assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True, name
        assert props["SSESpecification"]["SSEEnabled"] is True, name
    for name, spec in of_type("AWS::S3::Bucket").items():
        props = spec["Properties"]
        assert spec["DeletionPolicy"] == "Retain", name
        assert all(props["PublicAccessBlockConfiguration"].values()), name
        [rule] = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("aws:kms", "AES256"), name
    for name, spec in of_type("AWS::SQS::Queue").items():
        props = spec["Properties"]
        assert props.get("SqsManagedSseEnabled") or props.get("KmsMasterKeyId"), name
        assert spec["DeletionPolicy"] == "Retain", name  # dead letters have no other copy
    for name, spec in of_type("AWS::Kinesis::Stream").items():
        assert spec["Properties"]["StreamEncryption"]["EncryptionType"] == "KMS", name
    for name, spec in of_type("AWS::Logs::LogGroup").items():
        assert spec["Properties"]["RetentionInDays"], name


def test_serving_and_streaming_code_never_imports_training_libraries() -> None:
    banned = re.compile(r"^\s*(import|from)\s+(sklearn|scipy|pandas|joblib|pickle)\b", re.M)
    lines = (ROOT / "layers/core/requirements.txt").read_text().lower().splitlines()
    pins = [line for line in lines if line.strip() and not line.startswith("#")]
    assert not any(name in pin for pin in pins for name in ("scikit-learn", "scipy", "pandas"))
    for path in list((ROOT / "functions").rglob("*.py")) + list((ROOT / "layers").rglob("*.py")):
        assert not banned.search(path.read_text()), path


def test_sample_events_exist_for_every_route_and_function() -> None:
    files = {p.relative_to(ROOT / "events").as_posix() for p in Path(ROOT / "events").rglob("*.json")}
    assert "profile_updater/kinesis_batch.json" in files
    specs = function_specs(offline_stack())
    api_routes = [r for r in specs["ApiFunction"].routes]
    assert len([f for f in files if f.startswith("api/")]) == len(api_routes)
    assert "collector/post_events.json" in files
    assert "segment_refresher/scheduled_event.json" in files


def test_segment_refresher_runs_on_a_schedule_over_a_sparse_due_index() -> None:
    from pulse.adapters.tables import DUE_INDEX, ProfileRecord

    spec = function_specs(offline_stack())["SegmentRefresherFunction"]
    assert [s.period_seconds for s in spec.schedules] == [300.0]  # rate(5 minutes), the default
    [index] = RESOURCES["ProfilesTable"]["Properties"]["GlobalSecondaryIndexes"]
    assert index["IndexName"] == DUE_INDEX == ProfileRecord.due_index.Meta.index_name
    assert [k["AttributeName"] for k in index["KeySchema"]] == ["due_shard", "due_at"]
    assert index["Projection"] == {"ProjectionType": "KEYS_ONLY"}
    props = RESOURCES["SegmentRefresherFunction"]["Properties"]
    assert props["ReservedConcurrentExecutions"] == 1


def test_schedule_rates_are_read_like_eventbridge_and_cron_is_refused_locally() -> None:
    from infrastructure.functions import rate_seconds

    assert rate_seconds("rate(1 minute)") == 60.0 and rate_seconds("rate(2 hours)") == 7200.0
    for bad in ("cron(0 12 * * ? *)", "rate(0 minutes)", "rate(five minutes)", "rate(3 weeks)"):
        with pytest.raises(ValueError, match=r"."):
            rate_seconds(bad)


def test_a_cron_schedule_runs_locally_only_at_a_local_period() -> None:
    import copy
    import threading

    from infrastructure.schedule import LocalSchedule

    template = copy.deepcopy(TEMPLATE)
    event = template["Resources"]["SegmentRefresherFunction"]["Properties"]["Events"]["Every"]
    event["Properties"]["Schedule"] = "cron(0 3 * * ? *)"
    [source] = function_specs(offline_stack(template))["SegmentRefresherFunction"].schedules
    assert source.period_seconds is None
    fired: list[dict] = []
    stop = threading.Event()
    LocalSchedule(source, "fn", fired.append, "us-east-1", "1", None).run(stop)  # returns: nothing to emulate
    assert fired == []

    def fire(event: dict) -> None:
        fired.append(event)
        stop.set()

    local = LocalSchedule(source, "fn", fire, "us-east-1", "1", 0.01)
    local.run(stop)
    assert fired[0]["detail-type"] == "Scheduled Event" and fired[0]["source"] == "aws.events"


def test_every_function_logs_to_a_group_that_expires_its_logs() -> None:
    # Lambda's default group keeps logs for ever; each function must log to a group with a retention
    default = TEMPLATE["Globals"]["Function"].get("LoggingConfig", {}).get("LogGroup")
    for name, spec in FUNCTIONS.items():
        group = spec["Properties"].get("LoggingConfig", {}).get("LogGroup", default)
        assert isinstance(group, dict) and "Ref" in group, name
        retention = RESOURCES[group["Ref"]]["Properties"]["RetentionInDays"]
        assert retention == {"Ref": "LogRetentionDays"}, name
    assert TEMPLATE["Parameters"]["LogRetentionDays"]["Default"] == 30
