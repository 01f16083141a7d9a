"""Experiments on DynamoDB: definitions, sharded per-day counters, and who has been exposed.

One table, hash key ``pk`` and range key ``sk``:
- ``#experiments`` / ``<experiment_id>``: the definition as JSON (``body``) with ``version`` as an
  optimistic lock;
- ``<experiment_id>#<shard>`` / ``<variant>#<day>``: counters (``users``, ``exposures``, ``clicks``,
  ``clickers``, ``conversions``, ``converters``, ``revenue``, ``revenue_sq``) for the users of one of
  ``COUNTER_SHARDS`` shards (the user's, as for segment counters): no hot key, and results are
  ``COUNTER_SHARDS`` small Queries;
- ``<experiment_id>#u#<user_id>`` / ``-``: the user's exposures, so the first one counts a user.
Outcome counters are added by the profile updater inside its profile transaction (``outcome_actions``).
"""

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.models import Model

from pulse.adapters.tables import call, user_shard
from pulse.config import Settings
from pulse.domain.experiment_results import Totals
from pulse.domain.experiments import Experiment
from pulse.ports import ExperimentStore, StoreConflict

DEFINITIONS = "#experiments"
COUNTER_SHARDS = 16
COUNTERS = ("users", "exposures", "clicks", "clickers", "conversions", "converters", "revenue", "revenue_sq")


class ExperimentItem(Model):
    class Meta:
        table_name = "pulse-experiments"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    body = UnicodeAttribute(null=True)
    version = NumberAttribute(null=True)
    users = NumberAttribute(null=True)
    exposures = NumberAttribute(null=True)
    clicks = NumberAttribute(null=True)
    clickers = NumberAttribute(null=True)
    conversions = NumberAttribute(null=True)
    converters = NumberAttribute(null=True)
    revenue = NumberAttribute(null=True)
    revenue_sq = NumberAttribute(null=True)


def bind_experiments(settings: Settings) -> None:
    ExperimentItem.Meta.table_name = settings.experiments_table
    meta: Any = ExperimentItem.Meta
    meta.region = settings.region
    meta.host = settings.endpoint_url
    ExperimentItem._connection = None


def counter_item(experiment_id: str, variant: str, day: str, user_id: str) -> ExperimentItem:
    shard = user_shard(user_id, COUNTER_SHARDS)
    return ExperimentItem(f"{experiment_id}#{shard:02d}", f"{variant}#{day}")


def outcome_actions(deltas: dict[str, float]) -> list[Any]:
    """The ``ADD`` actions of one counter item's increments (for a transaction's update)."""
    return [getattr(ExperimentItem, name).add(value) for name, value in sorted(deltas.items()) if name in COUNTERS]


EXPOSED = ExperimentItem.exposures.add(1)


class DynamoExperimentStore(ExperimentStore):
    def __init__(self, settings: Settings) -> None:
        bind_experiments(settings)
        self._pool = ThreadPoolExecutor(4, thread_name_prefix="exposure-marker")

    def definitions(self) -> list[Experiment]:
        def query() -> list[Experiment]:
            return [
                Experiment.model_validate_json(item.body)
                for item in ExperimentItem.query(DEFINITIONS, consistent_read=True)
                if item.body
            ]

        return call(query)

    def get(self, experiment_id: str) -> Experiment | None:
        def read() -> Experiment | None:
            try:
                item = ExperimentItem.get(DEFINITIONS, experiment_id, consistent_read=True)
            except ExperimentItem.DoesNotExist:
                return None
            return Experiment.model_validate_json(item.body) if item.body else None

        return call(read)

    def put(self, experiment: Experiment, expected_version: int | None) -> None:
        item = ExperimentItem(
            DEFINITIONS, experiment.experiment_id, body=experiment.model_dump_json(), version=experiment.version
        )
        condition: Any = ExperimentItem.version == expected_version
        if expected_version is None:
            condition = ExperimentItem.pk.does_not_exist()
        try:
            call(lambda: item.save(condition=condition))
        except StoreConflict as exc:
            raise StoreConflict(f"experiment {experiment.experiment_id} changed meanwhile; read it again") from exc

    def expose(self, experiment_id: str, variant: str, user_id: str, day: str, counted_before: bool = False) -> bool:
        """Count one exposure, and the user on their first (True then). ``counted_before``: the caller
        knows the user was counted already (its cache), which saves the marker's write. The marker and
        the counter are written at once (one round trip); only a user's very first exposure costs a
        second (the user count)."""
        counter = counter_item(experiment_id, variant, day, user_id)
        marker = ExperimentItem(f"{experiment_id}#u#{user_id}", "-")
        marked = None if counted_before else self._pool.submit(call, lambda: marker.update(actions=[EXPOSED]))
        call(lambda: counter.update(actions=[EXPOSED]))
        if marked is None:
            return False
        marked.result()
        if int(marker.exposures or 0) != 1:
            return False
        call(lambda: counter.update(actions=[ExperimentItem.users.add(1)]))
        return True

    def forget_user(self, user_id: str) -> None:
        def delete() -> None:
            for experiment in self.definitions():
                ExperimentItem(f"{experiment.experiment_id}#u#{user_id}", "-").delete()

        call(delete)

    def totals(self, experiment_id: str) -> dict[str, Totals]:
        def query() -> dict[str, Totals]:
            out: dict[str, Totals] = {}
            for shard in range(COUNTER_SHARDS):
                for item in ExperimentItem.query(f"{experiment_id}#{shard:02d}", consistent_read=True):
                    variant = item.sk.rsplit("#", 1)[0]
                    out.setdefault(variant, Totals()).add({name: getattr(item, name) or 0 for name in COUNTERS})
            return out

        return call(query)
