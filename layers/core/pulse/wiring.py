"""Explicit wiring: what each function's handler works with, built in one place from the settings.

Each handler module holds one ``Provider`` of its dependencies. It builds them on first use and keeps
them for the life of the Lambda container; tests swap in fakes with ``provider.override(...)``
instead of assigning module globals. This is the only module that names the concrete adapters.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from threading import Lock
from typing import TYPE_CHECKING, Any

from pulse import heap
from pulse.config import Settings, get_settings
from pulse.domain import segments
from pulse.ports import (
    ActivityStore,
    CatalogStore,
    ClientDirectory,
    DeadLetterSink,
    DueProfiles,
    ErasureJobs,
    ErasureQueue,
    EventPublisher,
    ExperimentStore,
    ExportFiles,
    ExportJobs,
    ExportQueue,
    ProfileStore,
    RawDataEraser,
    SegmentDefinitions,
    SegmentDirectory,
)
from pulse.services.activation import Activation
from pulse.services.experiments import Experiments
from pulse.services.model_holder import HeldVersions, ModelHolder
from pulse.services.profile_cache import updater_store
from pulse.services.recommendations import Serving
from pulse.services.segment_definitions import RuntimeCatalog

if TYPE_CHECKING:
    from pulse.adapters.model_prefetch import Prefetch
    from pulse.adapters.model_store import S3ModelSource
    from pulse.services.overview import StackHealth

# What X-Ray patches: the only libraries the functions call AWS through. Patching every library the
# SDK knows cost 0.07 s more of each cold start (0.242 against 0.174 s, measured).
TRACED_MODULES = ("botocore", "pynamodb")


class Provider[T]:
    """A cached factory that tests can override."""

    def __init__(self, build: Callable[[], T]) -> None:
        self._build = build
        self._built: T | None = None
        self._override: T | None = None
        self._lock = Lock()

    def __call__(self) -> T:
        if self._override is not None:
            return self._override
        if self._built is None:
            with self._lock:
                if self._built is None:
                    self._built = self._build()
                    heap.settle()  # in Lambda: the container's lasting objects, out of the collector's walk
        return self._built

    @contextmanager
    def override(self, value: T) -> Iterator[T]:
        """Serve ``value`` instead of the built dependencies inside the ``with`` block."""
        previous, self._override = self._override, value
        try:
            yield value
        finally:
            self._override = previous

    def reset(self) -> None:
        """Forget what was built (the settings changed, as between tests)."""
        self._built = None


@dataclass(frozen=True)
class ApiDependencies:
    settings: Settings
    store: ProfileStore
    directory: SegmentDirectory
    serving: Serving
    erasure_jobs: ErasureJobs
    erasure_queue: ErasureQueue
    experiment_store: ExperimentStore
    models: "S3ModelSource"  # the model bucket: versions, manifests, the pointer
    definitions: SegmentDefinitions
    segment_catalog: RuntimeCatalog
    export_jobs: ExportJobs
    export_queue: ExportQueue
    export_files: ExportFiles
    activity: ActivityStore
    health: "StackHealth"

    @property
    def holder(self) -> ModelHolder:
        return self.serving.holder


@dataclass(frozen=True)
class ExporterDependencies:
    jobs: ExportJobs
    directory: SegmentDirectory
    store: ProfileStore
    files: ExportFiles
    queue: ExportQueue
    daily_segments: list[str]


@dataclass(frozen=True)
class CatalogDependencies:
    store: CatalogStore


@dataclass(frozen=True)
class EraserDependencies:
    jobs: ErasureJobs
    eraser: RawDataEraser


@dataclass(frozen=True)
class AuthorizerDependencies:
    clients: ClientDirectory


@dataclass(frozen=True)
class CollectorDependencies:
    publisher: EventPublisher


@dataclass(frozen=True)
class UpdaterDependencies:
    settings: Settings
    store: ProfileStore
    dead_letters: DeadLetterSink
    catalog: CatalogStore
    activity: ActivityStore
    experiments: Experiments
    activation: Activation


@dataclass(frozen=True)
class TrainerDependencies:
    settings: Settings
    s3: Any  # the model bucket's client: the archive, the versions, the pointer, the run records
    catalog: CatalogStore


@dataclass(frozen=True)
class RefresherDependencies:
    store: ProfileStore
    due: DueProfiles
    dead_letters: DeadLetterSink
    definitions: SegmentDefinitions
    directory: SegmentDirectory
    settle_seconds: float  # a changed definition is evaluated over every profile once this old
    scan: Callable[[dict[str, Any] | None], Any]  # every profile's user id, from a stored position
    segment_catalog: RuntimeCatalog
    activation: Activation


def build_activation(settings: Settings, dead_letters: DeadLetterSink) -> Activation:
    from pulse.adapters.activation import DynamoOutbox, EventBridgePublisher

    return Activation(EventBridgePublisher(settings), DynamoOutbox(settings), dead_letters)


def install_segment_catalog(definitions: SegmentDefinitions, settings: Settings) -> RuntimeCatalog:
    """Every function evaluates the built-in segments with the definitions stored at runtime."""
    runtime = RuntimeCatalog(definitions, settings.segment_definitions_refresh_seconds)
    segments.use_catalog(runtime)
    return runtime


def build_api(on_model_failure: Callable[[str, str], None], prefetch: "Prefetch | None" = None) -> ApiDependencies:
    from pulse.adapters.activity_store import DynamoActivityStore
    from pulse.adapters.catalog_store import DynamoCatalogStore
    from pulse.adapters.erasure import S3ErasureJobs, SqsErasureQueue
    from pulse.adapters.experiment_store import DynamoExperimentStore
    from pulse.adapters.exports import S3ExportFiles, S3ExportJobs, SqsExportQueue
    from pulse.adapters.model_store import S3ModelSource
    from pulse.adapters.profile_store import DynamoProfileStore
    from pulse.adapters.segment_directory import DynamoSegmentDirectory
    from pulse.adapters.stack_health import AwsStackHealth
    from pulse.services.catalog_view import CatalogView
    from pulse.services.live_popularity import LivePopularity

    settings = get_settings()
    catalog = CatalogView(DynamoCatalogStore(settings), settings.catalog_refresh_seconds)
    source = S3ModelSource(settings, prefetch)
    holder = ModelHolder(
        source, settings.model_refresh_seconds, on_failure=on_model_failure, catalog=catalog, background=True
    )
    popularity = LivePopularity(DynamoActivityStore(settings), settings.popularity_refresh_seconds)
    experiment_store = DynamoExperimentStore(settings)
    experiments = Experiments(experiment_store, settings.experiment_refresh_seconds)
    versions = HeldVersions(source, settings.experiment_model_versions, catalog)
    directory = DynamoSegmentDirectory(settings)
    return ApiDependencies(
        settings,
        DynamoProfileStore(settings),
        directory,
        Serving(holder, popularity, settings.new_item_share, experiments, versions),
        S3ErasureJobs(settings),
        SqsErasureQueue(settings),
        experiment_store,
        source,
        directory,
        install_segment_catalog(directory, settings),
        S3ExportJobs(settings),
        SqsExportQueue(settings),
        S3ExportFiles(settings),
        popularity.store,
        AwsStackHealth(settings),
    )


def build_exporter() -> ExporterDependencies:
    from pulse.adapters.exports import S3ExportFiles, S3ExportJobs, SqsExportQueue
    from pulse.adapters.profile_store import DynamoProfileStore
    from pulse.adapters.segment_directory import DynamoSegmentDirectory

    settings = get_settings()
    directory = DynamoSegmentDirectory(settings)
    install_segment_catalog(directory, settings)
    store, files, queue = DynamoProfileStore(settings), S3ExportFiles(settings), SqsExportQueue(settings)
    daily = [name.strip() for name in settings.daily_export_segments.split(",") if name.strip()]
    return ExporterDependencies(S3ExportJobs(settings), directory, store, files, queue, daily)


def build_catalog() -> CatalogDependencies:
    from pulse.adapters.catalog_store import DynamoCatalogStore

    return CatalogDependencies(DynamoCatalogStore(get_settings()))


def build_eraser() -> EraserDependencies:
    from pulse.adapters.erasure import AwsRawDataEraser, S3ErasureJobs

    settings = get_settings()
    return EraserDependencies(S3ErasureJobs(settings), AwsRawDataEraser(settings))


def build_authorizer() -> AuthorizerDependencies:
    from pulse.adapters.clients import DynamoClientDirectory

    return AuthorizerDependencies(DynamoClientDirectory(get_settings()))


def build_collector() -> CollectorDependencies:
    from pulse.adapters.aws import KinesisEventPublisher

    return CollectorDependencies(KinesisEventPublisher(get_settings()))


def build_updater() -> UpdaterDependencies:
    from pulse.adapters.activity_store import DynamoActivityStore
    from pulse.adapters.aws import SqsDeadLetterSink
    from pulse.adapters.catalog_store import DynamoCatalogStore
    from pulse.adapters.experiment_store import DynamoExperimentStore
    from pulse.adapters.profile_store import DynamoProfileStore
    from pulse.adapters.segment_directory import DynamoSegmentDirectory

    settings = get_settings()
    install_segment_catalog(DynamoSegmentDirectory(settings), settings)
    letters = SqsDeadLetterSink(settings)
    store = updater_store(
        DynamoProfileStore(settings), settings.updater_profile_cache_mb, settings.updater_profile_cache_seconds
    )
    return UpdaterDependencies(
        settings,
        store,
        letters,
        DynamoCatalogStore(settings),
        DynamoActivityStore(settings),
        Experiments(DynamoExperimentStore(settings), settings.experiment_refresh_seconds),
        build_activation(settings, letters),
    )


def build_refresher() -> RefresherDependencies:
    from pulse.adapters.aws import SqsDeadLetterSink
    from pulse.adapters.profile_store import DynamoProfileStore
    from pulse.adapters.segment_directory import DynamoSegmentDirectory

    settings = get_settings()
    store = DynamoProfileStore(settings)
    directory = DynamoSegmentDirectory(settings)
    runtime = install_segment_catalog(directory, settings)
    settle = settings.segment_definitions_refresh_seconds
    scan = lambda start: store.user_ids(start=start)  # noqa: E731
    letters = SqsDeadLetterSink(settings)
    activation = build_activation(settings, letters)
    return RefresherDependencies(store, store, letters, directory, directory, settle, scan, runtime, activation)


def build_trainer() -> TrainerDependencies:
    from pulse.adapters.aws import client
    from pulse.adapters.catalog_store import DynamoCatalogStore

    settings = get_settings()
    return TrainerDependencies(
        settings, client("s3", settings.region, settings.endpoint_url), DynamoCatalogStore(settings)
    )
