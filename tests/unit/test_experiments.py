"""Experiments: sticky, weighted, independent assignment; ids only an experiment could issue;
outcomes attributed exactly once through re-delivery and duplicates; the use cases' refusals."""

import json
from collections import Counter

import pytest

from pulse.domain.experiments import Experiment, ExperimentSpec, Serve, experiment_of
from pulse.errors import Conflict, InvalidRequest
from pulse.ports import TransientFailure
from pulse.services import experiments as service
from pulse.services.experiments import Experiments, Limits
from pulse.services.ingest import process_batch
from tests.fakes import MemoryDeadLetters, MemoryProfileStore
from tests.fakes_experiments import MemoryExperimentStore
from tests.unit.test_ingest import NOW, T0, records

LIMITS = Limits(max_running=3, model_versions=1)


def spec(weights: tuple[float, ...] = (1, 1), **extra: object) -> ExperimentSpec:
    variants = [{"name": f"v{i}", "weight": w, "serve": {"strategy": "default"}} for i, w in enumerate(weights)]
    return ExperimentSpec.model_validate({"variants": variants} | extra)


def experiment(weights: tuple[float, ...] = (1, 1), experiment_id: str = "exp", **extra: object) -> Experiment:
    return Experiment(experiment_id=experiment_id, created_at=T0, updated_at=T0, **spec(weights, **extra).model_dump())


def test_split_of_100000_users_follows_the_weights_within_one_percent() -> None:
    exp = experiment((1, 2, 1))
    counts = Counter(exp.assign(f"user-{i}").name for i in range(100_000))
    for name, share in (("v0", 0.25), ("v1", 0.5), ("v2", 0.25)):
        assert abs(counts[name] / 100_000 - share) < 0.01, counts


def test_assignment_is_sticky_and_survives_storage_but_not_across_experiments() -> None:
    a, b = experiment(experiment_id="a"), experiment(experiment_id="b")
    again = Experiment.model_validate_json(a.model_dump_json())  # as another container reads it
    users = [f"u{i}" for i in range(2000)]
    assert [a.assign(u).name for u in users] == [again.assign(u).name for u in users]
    together = Counter((a.assign(u).name, b.assign(u).name) for u in users)
    assert all(380 < together[pair] < 620 for pair in together), together  # independent: about 500 each


def test_recommendation_ids_are_unique_fit_an_event_and_verify_only_for_their_experiment() -> None:
    exp, other = experiment(), experiment(experiment_id="exp")  # same id, another salt
    ids = {exp.recommendation_id("v1") for _ in range(1000)}
    assert len(ids) == 1000
    rid = next(iter(ids))
    assert experiment_of(rid) == "exp" and exp.issued(rid) == "v1"
    assert len(experiment(experiment_id="x" * 48).recommendation_id("y" * 32)) <= 128
    assert other.issued(rid) is None  # a forged or foreign id counts nowhere
    assert exp.issued(rid.replace(".v1.", ".v0.")) is None
    assert experiment_of("7f0c2a4e-0b7d-4f5e-9a41-6a3c1f1f2b10") is None


def test_definitions_refuse_bad_shapes_with_reasons() -> None:
    with pytest.raises(ValueError, match="distinct"):
        ExperimentSpec.model_validate({"variants": [{"name": "a", "weight": 1, "serve": {"strategy": "default"}}] * 2})
    with pytest.raises(ValueError, match="model_version is required"):
        Serve(strategy="model")
    with pytest.raises(ValueError, match="as_of"):
        Serve(strategy="frozen")
    assert Serve(strategy="frozen", as_of="2024-06-01T00:00:00Z").as_of == 1717200000.0  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at most 10 items"):
        spec(tuple([1.0] * 11))
    with pytest.raises(ValueError, match="greater than 0"):
        spec((1, 0))


def put(store: MemoryExperimentStore, experiment_id: str, body: ExperimentSpec, now: float = T0) -> Experiment:
    return service.put_experiment(store, experiment_id, body, now, LIMITS, lambda v: v == "v-pub", None)[0]


def test_put_limits_running_experiments_versions_and_changes_after_start() -> None:
    store = MemoryExperimentStore()
    for i in range(3):
        put(store, f"e{i}", spec())
    with pytest.raises(InvalidRequest, match="at most 3"):
        put(store, "e3", spec())
    put(store, "e3", spec(status="stopped"))  # a stopped one may be defined
    with pytest.raises(Conflict, match="variants"):
        put(store, "e0", spec((1, 3)))
    changed = put(store, "e0", spec(description="new words"))
    assert changed.version == 2 and changed.description == "new words"
    model = {"name": "m", "weight": 1, "serve": {"strategy": "model", "model_version": "v-missing"}}
    body = ExperimentSpec.model_validate({"variants": [model, model | {"name": "n"}], "status": "stopped"})
    with pytest.raises(InvalidRequest, match="not published"):
        put(store, "e4", body)
    stopped = service.stop_experiment(store, "e0", T0 + 5)
    assert stopped.status == "stopped" and stopped.stopped_at == T0 + 5
    assert store.get("e0").started_at == T0  # type: ignore[union-attr]


def outcome_events(rid: str, user: str = "alice") -> list[dict]:
    base = {"user_id": user, "item_id": "i1", "recommendation_id": rid}
    return [
        base | {"event_id": "c1", "event_type": "click", "timestamp": T0 + 1},
        base | {"event_id": "c2", "event_type": "click", "timestamp": T0 + 2},
        base | {"event_id": "p1", "event_type": "purchase", "timestamp": T0 + 3, "value": 20.0, "quantity": 2},
        base | {"event_id": "p2", "event_type": "purchase", "timestamp": T0 + 4, "value": 5.0},
        base | {"event_id": "v1", "event_type": "view", "timestamp": T0 + 5},
    ]


def apply(profiles: MemoryProfileStore, resolver: Experiments, payloads: list[dict], first_seq: int = 1) -> None:
    process_batch(
        records(payloads, first_seq=first_seq),
        profiles,
        MemoryDeadLetters(),
        half_life_days=14,
        now=NOW,
        attribution=resolver.attribution,
    )


def test_outcomes_are_attributed_once_under_redelivery_duplicates_and_bisection() -> None:
    profiles, store = MemoryProfileStore(), MemoryExperimentStore()
    exp = put(store, "exp", spec())
    resolver = Experiments(store, refresh_seconds=60)
    rid = exp.recommendation_id("v1")
    events = outcome_events(rid)
    apply(profiles, resolver, events[:2])
    apply(profiles, resolver, events)  # Lambda retried the shard from the first record
    apply(profiles, resolver, events[2:3], first_seq=2)  # bisection re-sent one record
    apply(profiles, resolver, [events[3]], first_seq=50)  # the producer sent an event twice
    apply(profiles, resolver, [dict(events[0], recommendation_id="x.exp.v1.0000.forged000000")], first_seq=60)
    ((key, counted),) = profiles.outcomes.items()
    assert key == ("exp", "v1", "2024-06-01")
    assert counted == {
        "clicks": 2,
        "clickers": 1,
        "conversions": 2,
        "converters": 1,
        "revenue": 45.0,
        "revenue_sq": 45.0**2,  # one user's total, squared: exact per-user spread
    }


def test_an_experiment_created_after_the_updater_read_the_definitions_is_still_attributed() -> None:
    profiles, store = MemoryProfileStore(), MemoryExperimentStore()
    now = [0.0]
    resolver = Experiments(store, refresh_seconds=60, clock=lambda: now[0])
    resolver.all()  # read before the experiment exists
    exp = put(store, "late", spec())
    now[0] = 2.0
    apply(profiles, resolver, outcome_events(exp.recommendation_id("v0"))[:1])
    assert profiles.outcomes[("late", "v0", "2024-06-01")]["clicks"] == 1


def test_assignment_takes_the_oldest_eligible_running_experiment() -> None:
    store = MemoryExperimentStore()
    put(store, "shoppers", spec(segment="high_spenders"), now=T0)
    put(store, "everyone", spec(), now=T0 + 1)
    put(store, "stopped", spec(status="stopped"), now=T0 - 1)
    serving = Experiments(store)
    assert serving.assign("u1", ["high_spenders"])[0].experiment_id == "shoppers"  # type: ignore[index]
    assert serving.assign("u1", [])[0].experiment_id == "everyone"  # type: ignore[index]
    service.stop_experiment(store, "everyone", T0 + 2)
    serving.forget()
    assert serving.assign("u1", []) is None


def test_exposures_count_users_once_and_survive_a_container_that_forgot_them() -> None:
    store = MemoryExperimentStore()
    exp = put(store, "exp", spec())
    first, second = Experiments(store), Experiments(store)  # two containers
    for serving in (first, first, second):
        serving.expose(exp, "v0", "alice", T0)
    (counters,) = store.counters.values()
    assert counters == {"exposures": 3, "users": 1}
    assert json.loads(exp.model_dump_json())["salt"] and "salt" not in exp.public()


def test_unreadable_definitions_give_the_default_answer_not_an_error() -> None:
    class Down(MemoryExperimentStore):
        def definitions(self) -> list[Experiment]:
            raise TransientFailure("throttled")

    assert Experiments(Down()).assign("u1", []) is None
    with pytest.raises(TransientFailure):  # the updater must retry instead: an outcome is never dropped
        Experiments(Down()).attribution(experiment().recommendation_id("v0"))
