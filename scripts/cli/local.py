"""The local stack: run it, run the demo on it, invoke one function on a sample event."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from scripts.cli import finish
from scripts.cli.target import local_state, state_path

EVENT_DIRS = {  # events/<folder>/ holds sample inputs of this function
    "api": "ApiFunction",
    "authorizer": "AuthorizerFunction",
    "catalog": "CatalogFunction",
    "collector": "CollectorFunction",
    "eraser": "EraserFunction",
    "exporter": "ExporterFunction",
    "profile_updater": "ProfileUpdaterFunction",
    "segment_refresher": "SegmentRefresherFunction",
    "trainer": "TrainerFunction",
}


@click.command()
@click.option("--aws-port", type=int, default=5000, show_default=True, envvar="AWS_PORT", help="moto's AWS endpoint")
@click.option("--api-port", type=int, default=3000, show_default=True, envvar="API_PORT", help="the HTTP API")
@click.option("--host", default="127.0.0.1", show_default=True, help="address to listen on")
@click.option("--auth", is_flag=True, envvar="PULSE_LOCAL_AUTH", help="check credentials (scopes) as API Gateway does")
@click.option("--api-key", envvar="PULSE_LOCAL_API_KEY", help="check credentials; this x-api-key gets every scope")
@click.option("--verbose", is_flag=True, help="function logs on the console (else in .cache/local-stack/functions.log)")
@click.option("--schedule-seconds", type=float, default=10.0, show_default=True, help="fire schedules this often")
@click.option("--training-seconds", type=float, default=300.0, show_default=True, help="retrain this often (0: never)")
@click.option("--parameter", multiple=True, metavar="NAME=VALUE", help="template parameter override (repeatable)")
def up(**options: Any) -> None:
    """Run the local stack in the foreground until Ctrl-C: every resource of template.yaml on moto,
    the functions, the Kinesis event sources, schedules and the HTTP API.

    State lives in memory: stopping the stack loses profiles, models and events (start it again and
    re-send, or backfill). The API checks for a newly promoted model every 2 s here (ModelRefreshSeconds).
    """
    from infrastructure.local_stack import main as local_stack_main

    argv = ["--aws-port", str(options["aws_port"]), "--api-port", str(options["api_port"]), "--host", options["host"]]
    argv += ["--schedule-seconds", str(options["schedule_seconds"]), "--state-file", str(state_path())]
    argv += ["--training-seconds", str(options["training_seconds"])]
    argv += ["--api-key", options["api_key"]] if options["api_key"] else []
    argv += ["--auth"] if options["auth"] else []
    argv += [] if options["verbose"] else ["--function-log", str(state_path().parent / "functions.log")]
    parameters = list(options["parameter"])
    if not any(p.startswith("ModelRefreshSeconds=") for p in parameters):
        parameters.append("ModelRefreshSeconds=2")  # locally, a promoted model serves within seconds
    if not any(p.startswith("ErasureDelaySeconds=") for p in parameters):
        parameters.append("ErasureDelaySeconds=5")  # the local archive writes within a second, not 300 s
    for parameter in parameters:
        argv += ["--parameter", parameter]
    finish(local_stack_main(argv))


@click.command()
@click.option("--serve", is_flag=True, help="keep the stack running at the end (Ctrl-C stops it)")
@click.option("--sample", type=int, default=200, show_default=True, help="interactions asked about through the API")
@click.option("--trials", type=int, default=60, show_default=True, help="freshness trials")
@click.option("--max-users", type=int, default=0, help="only the first N users (quick runs)")
@click.option("--aws-port", type=int, default=5000, show_default=True, envvar="AWS_PORT", help="its AWS endpoint")
@click.option("--api-port", type=int, default=3000, show_default=True, envvar="API_PORT", help="its HTTP API")
def demo(**options: Any) -> None:
    """The whole product on MovieLens-100K on a local stack of its own, with a report in reports/demo/."""
    from scripts.demo.__main__ import main as demo_main

    argv = [f"--{name.replace('_', '-')}={value}" for name, value in options.items() if name != "serve"]
    finish(demo_main(argv + (["--serve"] if options["serve"] else [])))


@click.command()
@click.argument("function")
@click.argument("event_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def invoke(function: str, event_file: Path) -> None:
    """Run FUNCTION (ApiFunction, CollectorFunction, ProfileUpdaterFunction, SegmentRefresherFunction)
    once on EVENT_FILE (a file from events/) against the running local stack: the Docker-free
    `sam local invoke`. Prints the function's answer as JSON; exit 1 if it raised.
    """
    result = invoke_function(function, json.loads(event_file.read_text()))
    click.echo(json.dumps(result, indent=1, default=str))


def invoke_function(function: str, event: dict[str, Any]) -> Any:
    state = local_state()
    if state is None:
        raise click.ClickException("no local stack is running: start one with `pulse up` (or `make up`)")
    functions: dict[str, dict[str, Any]] = state.get("functions", {})
    if function not in functions:
        raise click.ClickException(f"no function {function}; the template has {', '.join(sorted(functions))}")
    from infrastructure.functions import FunctionSpec, LambdaContext, load_handler
    from pulse.adapters.aws import reset_cached_clients

    found = functions[function]
    spec = FunctionSpec(
        function, found["name"], Path(found["code_dir"]), found["handler"], found["timeout"], found["memory_mb"], {}
    )
    os.environ.update(found["environment"])  # the function's variables, as the local stack runs it
    reset_cached_clients()
    # as `sam local invoke`: the function's logs on stderr, its answer alone on stdout
    with contextlib.redirect_stdout(sys.stderr):
        handler = load_handler(spec)
        try:
            return handler(event, LambdaContext.for_spec(spec))
        except Exception as exc:
            raise click.ClickException(f"{function} raised {type(exc).__name__}: {exc}") from exc


COMMANDS = [up, demo, invoke]
