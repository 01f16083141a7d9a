"""API function: recommendations, ranking, similar and popular items, profiles, segments, health.

Wiring only: Powertools validates the request, one service call answers it, errors map in one place
(``pulse.http.errors``), collaborators come from ``dependencies`` (tests override it).
"""

import os
import time
from typing import Annotated, Any

from pulse.adapters.model_prefetch import prefetch_promoted
from pulse.config import get_settings

# In Lambda the model is read during init (elsewhere, tests and the local stack's tools, on first use):
# the promoted version downloads on a thread from here on, while the rest imports
IN_LAMBDA = bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))
PREFETCH = prefetch_promoted(get_settings()) if IN_LAMBDA else None

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.depends import Depends
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from pulse import __version__
from pulse.console import install_console
from pulse.domain.activity import WINDOW_PATTERN
from pulse.domain.catalog import ITEM_ID
from pulse.domain.experiments import EXPERIMENT_ID, ExperimentSpec
from pulse.domain.exports import EXPORT_ID, ExportRequest
from pulse.domain.segment_rules import SEGMENT_NAME, SegmentBody
from pulse.http import errors, spec
from pulse.http.cursor import CURSOR_PATTERN
from pulse.http.experiment_models import ExperimentList, ExperimentResults, ExperimentView, PromoteRequest
from pulse.http.models import (
    Audience,
    Erasure,
    Health,
    PopularItems,
    Profile,
    RankedItems,
    RankRequest,
    Recommendations,
    SegmentList,
    SimilarItems,
)
from pulse.http.operations import install_operations
from pulse.http.segment_models import ExportAccepted, ExportView, SegmentView
from pulse.services import erasure, experiments, exports, profiles, recommendations, segment_definitions
from pulse.services.model_holder import loaded_model
from pulse.wiring import TRACED_MODULES, ApiDependencies, Provider, build_api

ID = r"^[A-Za-z0-9_.:@-]{1,128}$"

logger = Logger()
tracer = Tracer(patch_modules=TRACED_MODULES)
metrics = Metrics()
# "now serving model <version>" in the function's JSON log (the dashboard's served-version widget reads it)
copy_config_to_registered_loggers(source_logger=logger, include={"pulse.services.model_holder"})
app = APIGatewayRestResolver(enable_validation=True)
errors.install_error_handlers(app)
errors.reject_unknown_query_parameters(app)
spec.install_swagger(app)


def _reload_failed(version: str, reason: str) -> None:
    metrics.add_metric(name="ModelReloadFailures", unit=MetricUnit.Count, value=1)
    logger.error("model version refused", extra={"refused_version": version, "reason": reason})


dependencies = Provider(lambda: build_api(on_model_failure=_reload_failed, prefetch=PREFETCH))


def _load_model_during_init() -> None:
    """In a Lambda environment, read and verify the promoted model while the function initialises
    (init runs at full CPU, before any caller waits), not on the first request. Without a model, or
    if S3 cannot be read now, the first request tries again."""
    if not IN_LAMBDA:
        return
    try:
        dependencies().holder.current()
    except Exception as exc:  # noqa: BLE001  # init must never fail: requests retry and report
        logger.info("no model loaded during init", extra={"reason": f"{type(exc).__name__}: {exc}"})
    finally:
        if PREFETCH is not None:
            PREFETCH.discard()  # files the holder did not take (the pointer moved) are not kept


_load_model_during_init()
install_operations(app, dependencies)
install_console(app)
Deps = Annotated[ApiDependencies, Depends(dependencies)]
UserIdPath = Annotated[str, Path(pattern=ID, description="The user's id (1-128 of A-Z a-z 0-9 _ . : @ -)")]
ItemIdPath = Annotated[str, Path(pattern=ITEM_ID, min_length=1, max_length=128, description="The item's id")]
SegmentPath = Annotated[str, Path(min_length=1, max_length=200, description="A segment's name, e.g. fan:Drama")]
K = Annotated[int, Query(ge=1, le=100, description="How many items (1-100)")]
Explain = Annotated[bool, Query(description="Attach reasons to each item")]


def _ids(raw: str | None) -> list[str]:
    """The ids of a comma list (its length is bounded by the parameter's; longer ids match no item)."""
    return [part.strip() for part in (raw or "").split(",") if 0 < len(part.strip()) <= 128]


def _timed(name: str, started: float) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Milliseconds, value=(time.perf_counter() - started) * 1000)


@app.get("/health", security=[{}], responses=errors.responses(Health, public=True))  # uptime checks: no key
def health(deps: Deps) -> Health:
    model = loaded_model(deps.holder)
    return Health(status="ok", version=__version__, model_version=model.version if model else None)


@app.get("/users/<user_id>/recommendations", responses=errors.responses(Recommendations, 400, 503))
def get_recommendations(
    deps: Deps,
    user_id: UserIdPath,
    k: K = 10,
    category: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
    exclude: Annotated[
        str | None,
        Query(
            max_length=8000,  # API Gateway takes URLs up to 10 KB
            description="Comma-separated item ids to leave out (ids no item has are ignored)",
        ),
    ] = None,
    explain: Explain = False,
) -> Recommendations:
    started = time.perf_counter()
    answer = recommendations.recommend(deps.serving, deps.store, user_id, k, category, _ids(exclude), explain)
    if answer.telemetry.exposure_lost:
        metrics.add_metric(name="ExposuresUnrecorded", unit=MetricUnit.Count, value=1)
    if answer.telemetry.cold_start:
        metrics.add_metric(name="ColdStartUsers", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="CandidatesScored", unit=MetricUnit.Count, value=answer.telemetry.candidates)
    metrics.add_metric(name="RecommendationsServed", unit=MetricUnit.Count, value=1)  # the hit rate's denominator
    _timed("RecommendationLatency", started)
    return answer.body


@app.post("/users/<user_id>/rank", responses=errors.responses(RankedItems, 400, 413, 415, 503))
def rank_items(deps: Deps, user_id: UserIdPath, request: Annotated[RankRequest, Body()]) -> RankedItems:
    started = time.perf_counter()
    body = recommendations.rank(deps.serving, deps.store, user_id, request.item_ids, request.explain)
    metrics.add_metric(name="RecommendationsServed", unit=MetricUnit.Count, value=1)
    _timed("RankLatency", started)
    return body


@app.get("/items/<item_id>/similar", responses=errors.responses(SimilarItems, 400, 404, 503))
def similar_items(deps: Deps, item_id: ItemIdPath, k: K = 10) -> SimilarItems:
    return recommendations.similar(deps.serving, item_id, k)


@app.get("/popular", responses=errors.responses(PopularItems, 400, 404, 503))
def popular_items(
    deps: Deps,
    k: K = 10,
    segment: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    category: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
    window: Annotated[
        str | None,
        Query(
            pattern=WINDOW_PATTERN,
            description="Count live interactions of this period: 1h-48h or 1d-30d (default: the model's popularity)",
        ),
    ] = None,
) -> PopularItems:
    return recommendations.popular(deps.serving, k, segment, category, window)


@app.get("/users/<user_id>/profile", responses=errors.responses(Profile, 400, 404))
def get_profile(deps: Deps, user_id: UserIdPath) -> Profile:
    return profiles.get_profile(deps.store, user_id)


@app.delete("/users/<user_id>", responses=errors.responses(None, 400))
def delete_user(deps: Deps, user_id: UserIdPath) -> Response[str]:
    """Erase the profile and memberships now; the user's raw events (archive, dead letters) go by a
    job whose status ``Location`` names (``GET /erasures/{erasure_id}``)."""
    delay = deps.settings.erasure_delay_seconds
    job = erasure.erase_user(
        deps.store, deps.erasure_jobs, deps.erasure_queue, user_id, delay, time.time(), deps.experiment_store
    )
    logger.info("user erased", extra={"erasure_id": job.erasure_id})
    location = f"{spec.base_path(app)}/erasures/{job.erasure_id}"
    return Response(status_code=204, body="", headers={"Location": location, "X-Erasure-Id": job.erasure_id})


@app.get("/erasures/<erasure_id>", responses=errors.responses(Erasure, 400, 404))
def get_erasure(deps: Deps, erasure_id: Annotated[str, Path(min_length=1, max_length=64)]) -> Erasure:
    return Erasure.model_validate(erasure.erasure_status(deps.erasure_jobs, erasure_id), from_attributes=True)


@app.get("/segments", responses=errors.responses(SegmentList))
def list_segments(deps: Deps) -> SegmentList:
    return profiles.list_segments(deps.directory)


@app.get("/segments/<segment>/users", responses=errors.responses(Audience, 400, 404))
def segment_users(
    deps: Deps,
    segment: SegmentPath,
    limit: Annotated[int, Query(ge=1, le=1000, description="Page size")] = 100,
    cursor: Annotated[
        str | None, Query(pattern=CURSOR_PATTERN, description="next_cursor of the previous page (a user id)")
    ] = None,
) -> Audience:
    return profiles.segment_audience(deps.directory, segment, limit, cursor)


@app.put("/segments/<segment>", responses=errors.responses(SegmentView, 400, 409, 415))
def put_segment(
    deps: Deps,
    segment: Annotated[str, Path(pattern=SEGMENT_NAME, description="a-z, 0-9 and _, starting with a letter")],
    body: Annotated[SegmentBody, Body()],
) -> SegmentView:
    """Define or change a segment; every profile is evaluated against it in the background."""
    segment_definitions.put_segment(deps.definitions, deps.segment_catalog, segment, body, time.time())
    return SegmentView.model_validate(segment_definitions.describe(deps.segment_catalog, deps.directory, segment))


@app.get("/segments/<segment>", responses=errors.responses(SegmentView, 400, 404))
def get_segment(deps: Deps, segment: SegmentPath) -> SegmentView:
    return SegmentView.model_validate(segment_definitions.describe(deps.segment_catalog, deps.directory, segment))


@app.delete("/segments/<segment>", responses=errors.responses(None, 400, 404, 409))
def delete_segment(deps: Deps, segment: SegmentPath) -> Response[str]:
    """Remove the segment; its members leave it in the background (its audience empties)."""
    segment_definitions.delete_segment(deps.definitions, deps.segment_catalog, segment, time.time())
    return Response(status_code=204, body="")


@app.post(
    "/segments/<segment>/exports",
    responses={202: {"description": "Accepted", "content": {"application/json": {"model": ExportAccepted}}}}
    | {k: v for k, v in errors.responses(None, 400, 404, 415).items() if k != 204},
)
def export_segment(
    deps: Deps, segment: SegmentPath, request: Annotated[ExportRequest, Body()]
) -> Response[ExportAccepted]:
    """Start an export of the audience (gzip CSV or JSON Lines); ``GET /exports/{id}`` follows it."""
    job = exports.request_export(deps.export_jobs, deps.export_queue, segment, request, time.time())
    accepted = ExportAccepted(export_id=job.export_id, status=job.status)
    location = f"{spec.base_path(app)}/exports/{job.export_id}"
    return Response(status_code=202, content_type="application/json", body=accepted, headers={"Location": location})


@app.get("/exports/<export_id>", responses=errors.responses(ExportView, 400, 404))
def get_export(
    deps: Deps, export_id: Annotated[str, Path(pattern=EXPORT_ID.pattern, description="exp_ and 24 hex digits")]
) -> ExportView:
    return ExportView.model_validate(exports.export_status(deps.export_jobs, deps.export_files, export_id))


ExperimentPath = Annotated[str, Path(pattern=EXPERIMENT_ID, description="The experiment's id (1-48 of A-Za-z0-9_-)")]


def _view(experiment: object) -> ExperimentView:
    return ExperimentView.model_validate(experiment, from_attributes=True)


@app.put(
    "/experiments/<experiment_id>",
    responses=errors.responses(ExperimentView, 400, 409, 415)
    | {201: {"description": "Created", "content": {"application/json": {"model": ExperimentView}}}},
)
def put_experiment(
    deps: Deps, experiment_id: ExperimentPath, spec_body: Annotated[ExperimentSpec, Body()]
) -> Response[ExperimentView]:
    """Create (201) or change (200) an experiment; once it has run, only description and status change."""
    settings, experiments_now = deps.settings, deps.serving.experiments
    limits = experiments.Limits(settings.max_running_experiments, settings.experiment_model_versions)
    stored, created = experiments.put_experiment(
        deps.experiment_store, experiment_id, spec_body, time.time(), limits, deps.models.exists, deps.holder.version
    )
    if experiments_now is not None:
        experiments_now.forget()
    return Response(status_code=201 if created else 200, content_type="application/json", body=_view(stored))


@app.get("/experiments", responses=errors.responses(ExperimentList))
def list_experiments(deps: Deps) -> ExperimentList:
    found = sorted(deps.experiment_store.definitions(), key=lambda e: e.created_at)
    return ExperimentList(experiments=[_view(e) for e in found])


@app.get("/experiments/<experiment_id>", responses=errors.responses(ExperimentView, 400, 404))
def get_experiment(deps: Deps, experiment_id: ExperimentPath) -> ExperimentView:
    return _view(experiments.get_experiment(deps.experiment_store, experiment_id))


@app.delete("/experiments/<experiment_id>", responses=errors.responses(ExperimentView, 400, 404, 409))
def stop_experiment(deps: Deps, experiment_id: ExperimentPath) -> ExperimentView:
    """Stop it: no more users are assigned; its results are kept (and late outcomes still count)."""
    stopped = experiments.stop_experiment(deps.experiment_store, experiment_id, time.time())
    if deps.serving.experiments is not None:
        deps.serving.experiments.forget()
    return _view(stopped)


@app.get("/experiments/<experiment_id>/results", responses=errors.responses(ExperimentResults, 400, 404))
def experiment_results(deps: Deps, experiment_id: ExperimentPath) -> ExperimentResults:
    return ExperimentResults.model_validate(experiments.results(deps.experiment_store, experiment_id))


@app.post("/experiments/<experiment_id>/promote", responses=errors.responses(ExperimentView, 400, 404, 409, 415))
def promote_variant(
    deps: Deps, experiment_id: ExperimentPath, request: Annotated[PromoteRequest, Body()]
) -> ExperimentView:
    """Serve the winning variant's model version to everyone, stop the experiment, record the figures."""
    decided = experiments.promote_winner(
        deps.experiment_store,
        experiment_id,
        request.variant,
        time.time(),
        lambda version, note: deps.models.write_pointer(version, **note),
        deps.holder.version,
    )
    if deps.serving.experiments is not None:
        deps.serving.experiments.forget()
    logger.info("variant promoted", extra={"experiment_id": experiment_id, "variant": request.variant})
    return _view(decided)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return errors.unsupported_media_type(event) or app.resolve(event, context)
