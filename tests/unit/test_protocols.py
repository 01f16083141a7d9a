"""Protocol B's replay: what each compared mode is allowed to know."""

import pytest

from pulse.domain.events import parse_event
from pulse.recommend.artifacts import load_model
from pulse.recommend.scorer import Scorer
from tests.modelkit import T0, synthetic_events, tiny_model, version_files
from training.evaluation import protocol_b


@pytest.fixture(scope="module")
def model():
    manifest, files = version_files(tiny_model(), "v1")
    return load_model("v1", manifest, files)


def _rating(n: int, item: str, at: float):
    event = {"event_id": f"new-{n}", "event_type": "rate", "user_id": "newcomer", "timestamp": at, "value": 4}
    return parse_event({**event, "item_id": item}, now=4e9)


def test_frozen_profiles_still_leave_out_what_the_user_rated_since_the_cut_off(model) -> None:
    # A user unknown at the cut-off has no frozen profile: its page is the cold-start page. They rate
    # that whole page, then the item that comes next once those are left out.
    scorer = Scorer(model)
    page = [r.item_id for r in scorer.recommend(None, k=10)]
    after = scorer.recommend(None, k=10, exclude=page)[0].item_id
    start = T0 + 10**6
    future = [_rating(n, item, start + 60 * n) for n, item in enumerate([*page, after])]
    figures = protocol_b(model, synthetic_events(), future, positions={len(page)})
    assert figures["frozen/all"]["events"] == 1
    assert figures["frozen/all"]["hr@10"] == 1.0  # the rated page is not offered again
    assert figures["popularity/all"]["events"] == 1
    # and the frozen page at the first request is the cold-start page itself
    first = protocol_b(model, synthetic_events(), future, positions={0})
    assert first["frozen/all"]["hr@10"] == 1.0
