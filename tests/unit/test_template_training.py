"""template.yaml's retraining: the trainer function, its schedule, alarms and the operations dashboard."""

import copy
import json
import re

from infrastructure.functions import function_specs
from infrastructure.template import ROOT, Stack, load_template
from pulse.config import Settings
from tests.unit.test_template import offline_stack

TEMPLATE = load_template()
RESOURCES = TEMPLATE["Resources"]
PARAMETERS = TEMPLATE["Parameters"]


def test_the_trainer_runs_daily_by_default_and_its_limits_are_parameters() -> None:
    props = RESOURCES["TrainerFunction"]["Properties"]
    assert RESOURCES["TrainerFunction"]["Metadata"]["BuildMethod"] == "makefile"
    assert (ROOT / props["CodeUri"] / "Makefile").read_text().count("build-TrainerFunction:") == 1
    assert props["MemorySize"] == {"Ref": "TrainingMemoryMB"} and props["Timeout"] == {"Ref": "TrainingTimeoutSeconds"}
    assert (
        PARAMETERS["TrainingMemoryMB"]["MaxValue"] == 10240 and PARAMETERS["TrainingTimeoutSeconds"]["MaxValue"] == 900
    )
    assert props["ReservedConcurrentExecutions"] == 1
    [schedule] = function_specs(offline_stack())["TrainerFunction"].schedules
    assert schedule.period_seconds == 86400.0 and schedule.enabled
    # the function reads what the template sets, through the one settings class
    env = function_specs(offline_stack())["TrainerFunction"].environment
    settings = Settings.model_validate(env)
    assert settings.training_window_days == float(PARAMETERS["TrainingWindowDays"]["Default"])
    assert settings.training_max_events == int(PARAMETERS["TrainingMaxEvents"]["Default"])
    assert settings.gate_margin == float(PARAMETERS["GateMargin"]["Default"])


def test_a_disabled_training_schedule_never_fires_locally() -> None:
    template = copy.deepcopy(TEMPLATE)
    stack = Stack(template, name="t", parameters={"TrainingScheduleEnabled": "false"})
    from infrastructure.resources import create_all

    class NoAws:
        def __getattr__(self, name: str):
            return lambda **kwargs: {"QueueUrl": "http://local/q", "TopicArn": "arn:aws:sns:us-east-1:1:t"}

    create_all(stack, lambda service: NoAws())
    [schedule] = function_specs(stack)["TrainerFunction"].schedules
    assert not schedule.enabled


def test_failures_and_repeated_refusals_raise_alarms() -> None:
    failed = RESOURCES["TrainingFailedAlarm"]["Properties"]
    assert failed["MetricName"] == "Errors" and failed["Dimensions"][0]["Value"] == {"Ref": "TrainerFunction"}
    refused = RESOURCES["TrainingRefusedAlarm"]["Properties"]
    assert refused["MetricName"] == "TrainingRefusalsInARow" and refused["Namespace"] == "Pulse"
    assert refused["Threshold"] == {"Ref": "TrainingRefusalsBeforeAlarm"}
    # the handler publishes the figure the alarm reads
    assert '"TrainingRefusalsInARow"' in (ROOT / "functions/trainer/app.py").read_text()


def test_the_dashboard_shows_what_an_operator_opens_it_for() -> None:
    stack = offline_stack()
    body = json.loads(stack.properties("OperationsDashboard")["DashboardBody"])  # valid JSON once resolved
    text = json.dumps(body)
    assert "${" not in text
    for wanted in (
        "IncomingRecords", "EventsApplied", "IteratorAge", "EventsDeadLettered", "ProfileWrites",
        "WriteThrottleEvents", "Latency", "'p99'", "4XXError", "5XXError", "ColdStart", "now serving model",
        "GateCandidateNdcg", "GateServedNdcg", "EventsFromRecommendations", "RecommendationsServed",
        "retraining done",
    ):  # fmt: skip
        assert wanted in text, wanted
    # every custom metric it charts is one a function publishes
    charted = set(re.findall(r'"Pulse", "(\w+)"', text))
    published = "".join(p.read_text() for p in (ROOT / "functions").rglob("app.py"))
    assert charted and all(name in published for name in charted), charted - {n for n in charted if n in published}
