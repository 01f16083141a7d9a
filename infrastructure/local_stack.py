"""The local stack: everything ``template.yaml`` declares, on one laptop, without Docker or AWS.

``sam local invoke`` / ``start-api`` need Docker, and moto cannot run Lambda code without it, so this
module hosts the functions itself:
- a moto server on loopback (default ``http://127.0.0.1:5000``) with every data resource of the
  template created from the template (``infrastructure.resources``);
- one worker process per function with the template's environment plus ``AWS_ENDPOINT_URL``;
- each Kinesis event source delivered to its function as Lambda would (``kinesis_source``);
- each ``Schedule`` event fired as EventBridge would, every 10 s locally (``schedule``);
- the API on ``http://127.0.0.1:3000`` as API Gateway REST proxy events (``api_gateway``).

Run it with ``make up`` (``python -m infrastructure.local_stack``); Ctrl-C stops everything.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from infrastructure.api_gateway import LocalApi
from infrastructure.archive import FirehoseArchive
from infrastructure.functions import FunctionSpec, FunctionWorker, function_specs
from infrastructure.gateway_auth import GatewayAuth
from infrastructure.kinesis_source import KinesisEventSource
from infrastructure.resources import create_all
from infrastructure.schedule import LocalSchedule
from infrastructure.sqs_source import SqsEventSource
from infrastructure.template import ACCOUNT_ID, Stack, load_template

log = logging.getLogger("pulse.local")
TRAINER = "TrainerFunction"  # its local period is its own: a training run is minutes of CPU, not seconds
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing"}


@dataclass
class LocalStackConfig:
    host: str = "127.0.0.1"
    aws_port: int = 5000
    api_port: int = 3000
    region: str = "us-east-1"
    stack_name: str = "pulse-local"
    poll_interval: float = 0.2
    auth: bool = False  # run the template's authorizer on every route, as API Gateway does
    api_key: str | None = None  # also register this credential as a client with every scope (implies auth)
    parameters: dict[str, Any] = field(default_factory=dict)
    start_moto: bool = True  # False: use an AWS endpoint that is already running at aws_port
    function_log: Path | None = None  # functions' logs go here instead of the console
    archive_seconds: float = 1.0  # the event archive's buffer (300 s on AWS): readable at once locally
    schedule_seconds: float | None = 10.0  # period of Schedule events (the template's rate when None)
    fire_schedules: bool = True  # False: no Schedule event fires (a replay of history at its own clock)
    # the trainer's schedule (daily on AWS) fires this often locally; None: never (`pulse retrain` runs it)
    training_seconds: float | None = 300.0
    state_file: Path | None = None  # where `pulse` commands find this stack (written at start, removed at stop)

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.aws_port}"


class LocalStack:
    def __init__(self, config: LocalStackConfig | None = None) -> None:
        self.config = config or LocalStackConfig()
        self.stack = Stack(
            load_template(), name=self.config.stack_name, region=self.config.region, parameters=self.config.parameters
        )
        self.moto: Any = None
        self.workers: dict[str, FunctionWorker] = {}
        self.sources: list[KinesisEventSource] = []
        self.archives: list[FirehoseArchive] = []
        self.schedules: list[LocalSchedule] = []
        self.queues: list[SqsEventSource] = []
        self.api = LocalApi(stage=str(self.stack.parameters.get("Stage", "prod")))
        self.httpd: Any = None
        self.specs: dict[str, FunctionSpec] = {}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def client(self, service: str) -> Any:
        return boto3.client(  # type: ignore[call-overload]
            service,
            region_name=self.config.region,
            endpoint_url=self.config.endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # noqa: S106  # moto accepts any key; never AWS
            config=Config(retries={"mode": "standard", "max_attempts": 3}),
        )

    def local_env(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.config.endpoint,
            "AWS_REGION": self.config.region,
            "AWS_DEFAULT_REGION": self.config.region,
            "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon locally
            **CREDENTIALS,
        }

    def start(self) -> LocalStack:
        if self.config.start_moto:
            from moto.server import ThreadedMotoServer

            from infrastructure import moto_speedups

            moto_speedups.install()

            self.moto = ThreadedMotoServer(ip_address=self.config.host, port=self.config.aws_port, verbose=False)
            self.moto.start()
        create_all(self.stack, self.client)
        self.specs = function_specs(self.stack, self.local_env())
        for logical_id, spec in self.specs.items():
            worker = FunctionWorker(spec, log_file=self.config.function_log)
            self.workers[logical_id] = worker
            for route in spec.routes:
                self.api.add(route, worker.invoke)
            for schedule in spec.schedules if self.config.fire_schedules else []:
                period = self.config.training_seconds if logical_id == TRAINER else self.config.schedule_seconds
                if schedule.enabled and not (logical_id == TRAINER and period is None):
                    local = LocalSchedule(schedule, spec.name, worker.invoke, self.config.region, ACCOUNT_ID, period)
                    self.schedules.append(local)
            for queue in spec.sqs_sources:
                url = self.client("sqs").get_queue_url(QueueName=queue.queue_arn.rsplit(":", 1)[-1])["QueueUrl"]
                self.queues.append(SqsEventSource(queue, url, worker.invoke, self.client("sqs"), self.config.region))
            for source in spec.kinesis_sources:
                destination = None
                if source.on_failure_arn:
                    queue_name = source.on_failure_arn.rsplit(":", 1)[-1]
                    destination = self.client("sqs").get_queue_url(QueueName=queue_name)["QueueUrl"]
                self.sources.append(
                    KinesisEventSource(
                        source,
                        self.stack.resources[logical_id].attributes["Arn"],
                        worker.invoke,
                        self.client("kinesis"),
                        self.client("sqs"),
                        region=self.config.region,
                        destination_url=destination,
                    )
                )
        for logical_id in self.stack.resource_specs("AWS::KinesisFirehose::DeliveryStream"):
            self.archives.append(
                FirehoseArchive(
                    self.stack.resources[logical_id].ref,
                    self.stack.properties(logical_id),
                    self.client("kinesis"),
                    self.client("s3"),
                    self.config.archive_seconds,
                )
            )
        pollers: list[tuple[str, Callable[[threading.Event, float], None]]] = [
            (f"archive-{a.name}", a.run) for a in self.archives
        ]
        pollers += [(f"kinesis-{m.source.name}", m.run) for m in self.sources]
        pollers += [(f"schedule-{s.name}", s.run) for s in self.schedules]
        pollers += [(f"sqs-{q.source.name}", q.run) for q in self.queues]
        if self.config.auth or self.config.api_key:
            self.enforce_auth()
        for name, run in pollers:  # each polls the stream until stop()
            thread = threading.Thread(target=run, args=(self._stop, self.config.poll_interval), daemon=True, name=name)
            thread.start()
            self._threads.append(thread)
        self.httpd = self.api.server(self.config.host, self.config.api_port)
        thread = threading.Thread(target=self.httpd.serve_forever, daemon=True, name="local-api")
        thread.start()
        self._threads.append(thread)
        if self.config.state_file is not None:
            self.config.state_file.parent.mkdir(parents=True, exist_ok=True)
            self.config.state_file.write_text(json.dumps(self.state(), indent=1))
        return self

    def enforce_auth(self) -> None:
        """Check credentials on every route with the template's authorizer; with ``api_key``, that
        credential is a client holding every scope (``local-admin``), ready for the tests and tours."""
        from pulse.access import SCOPES, token_hash

        functions = {r.authorizer.function for s in self.specs.values() for r in s.routes if r.authorizer}
        self.api.auth = GatewayAuth({f: self.workers[f].invoke for f in functions}, self.config.region, ACCOUNT_ID)
        if self.config.api_key:
            item = {
                "key_hash": {"S": token_hash(self.config.api_key)},
                "client_id": {"S": "local-admin"},
                "scopes": {"L": [{"S": scope} for scope in SCOPES]},
                "created_at": {"N": str(time.time())},
                "usage_key": {"S": "local-admin"},
                "description": {"S": "the local stack's --api-key"},
            }
            self.client("dynamodb").put_item(TableName=self.stack.resources["ClientsTable"].ref, Item=item)

    def state(self) -> dict[str, Any]:
        """What `pulse` commands need to reach this stack: its endpoint, outputs and functions."""
        return {
            "stack_name": self.config.stack_name,
            "endpoint": self.config.endpoint,
            "region": self.config.region,
            "outputs": self.outputs(),
            "functions": {
                logical_id: {
                    "name": spec.name,
                    "code_dir": str(spec.code_dir),
                    "handler": spec.handler,
                    "timeout": spec.timeout,
                    "memory_mb": spec.memory_mb,
                    "environment": spec.environment,
                }
                for logical_id, spec in self.specs.items()
            },
        }

    @property
    def api_url(self) -> str:
        return f"http://{self.config.host}:{self.config.api_port}"

    def outputs(self) -> dict[str, str]:
        r = self.stack.resources
        return {
            "ApiUrl": self.api_url,
            "ConsoleUrl": f"{self.api_url}/console",
            "AwsEndpoint": self.config.endpoint,
            "EventStreamName": r["EventStream"].ref,
            "ProfilesTableName": r["ProfilesTable"].ref,
            "SegmentsTableName": r["SegmentsTable"].ref,
            "ClientsTableName": r["ClientsTable"].ref,
            "ModelBucketName": r["ModelBucket"].ref,
            "DeadLetterQueueUrl": r["DeadLetterQueue"].ref,
            "EventBusName": r["ActivationBus"].ref,
            "CartAbandonersQueueUrl": r["CartAbandonersQueue"].ref,
            "TrainerFunctionName": r["TrainerFunction"].ref if "TrainerFunction" in r else "TrainerFunction",
        }

    def stop(self) -> None:
        if self.config.state_file is not None:
            self.config.state_file.unlink(missing_ok=True)
        self._stop.set()
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        for worker in self.workers.values():
            worker.stop()
        if self.moto is not None:
            self.moto.stop()

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def parse_args(argv: list[str] | None = None) -> LocalStackConfig:
    parser = argparse.ArgumentParser(description="Run Pulse's template on a local moto endpoint.")
    parser.add_argument("--host", default=os.environ.get("PULSE_LOCAL_HOST", "127.0.0.1"))
    parser.add_argument("--aws-port", type=int, default=int(os.environ.get("PULSE_AWS_PORT", "5000")))
    parser.add_argument("--api-port", type=int, default=int(os.environ.get("PULSE_API_PORT", "3000")))
    parser.add_argument("--poll-interval", type=float, default=0.2, help="seconds between Kinesis polls")
    parser.add_argument(
        "--schedule-seconds",
        type=float,
        default=10.0,
        help="fire Schedule events this often (0: at the template's rate, as on AWS)",
    )
    parser.add_argument(
        "--training-seconds",
        type=float,
        default=300.0,
        help="fire the trainer's schedule this often (0: never; `pulse retrain` runs it on demand)",
    )
    parser.add_argument(
        "--auth",
        action="store_true",
        default=os.environ.get("PULSE_LOCAL_AUTH", "") not in ("", "0", "false"),
        help="check credentials as API Gateway does: the template's authorizer on every route but /health",
    )
    parser.add_argument(
        "--api-key",
        default=os.environ.get("PULSE_LOCAL_API_KEY"),
        help="check credentials (--auth), and make this x-api-key a client with every scope",
    )
    parser.add_argument("--state-file", type=Path, help="write where `pulse` commands find this stack")
    parser.add_argument("--function-log", type=Path, help="functions' logs go to this file (default: the console)")
    parser.add_argument(
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="template parameter override (repeatable)",
    )
    args = parser.parse_args(argv)
    params = dict(p.split("=", 1) for p in args.parameter)
    return LocalStackConfig(
        host=args.host,
        aws_port=args.aws_port,
        api_port=args.api_port,
        poll_interval=args.poll_interval,
        schedule_seconds=args.schedule_seconds or None,
        training_seconds=args.training_seconds or None,
        auth=args.auth,
        api_key=args.api_key,
        parameters=params,
        state_file=args.state_file,
        function_log=args.function_log,
    )


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    config = parse_args(argv)
    stack = LocalStack(config).start()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    for name, value in stack.outputs().items():
        log.info("%-20s %s", name, value)
    if config.function_log is not None:
        log.info("function logs: %s (--verbose shows them here)", config.function_log)
    log.info("state is kept in memory only: stopping loses profiles, models and events")
    log.info("console: open %s/console in a browser", stack.api_url)
    log.info("local stack ready: API %s, AWS endpoint %s (Ctrl-C stops)", stack.api_url, config.endpoint)
    sys.stdout.flush()
    try:
        done.wait()
    except KeyboardInterrupt:
        pass
    finally:
        log.info("stopping")
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
