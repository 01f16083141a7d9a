"""Decayed scores are exact whatever the order events arrive in."""

import math

from hypothesis import given
from hypothesis import strategies as st

from pulse.domain.decay import DecayedScores

HL = 86400.0
events = st.lists(
    st.tuples(st.sampled_from("abc"), st.floats(-5, 5, allow_nan=False), st.floats(0, 30 * 86400)),
    min_size=1,
    max_size=30,
)


def fold(items) -> DecayedScores:
    scores = DecayedScores()
    for key, weight, at in items:
        scores.add(key, weight, at, HL, limit=100)
    return scores


@given(events, st.randoms())
def test_any_arrival_order_gives_the_same_scores(items, rnd) -> None:
    shuffled = list(items)
    rnd.shuffle(shuffled)
    a, b = fold(items), fold(shuffled)
    when = max(t for _, _, t in items)
    for key in set(a.scores) | set(b.scores):
        assert math.isclose(a.at(when, HL).get(key, 0.0), b.at(when, HL).get(key, 0.0), rel_tol=1e-9, abs_tol=1e-9)


def test_one_half_life_halves_a_score() -> None:
    scores = fold([("a", 4.0, 0.0), ("b", 1.0, HL)])
    assert math.isclose(scores.at(HL, HL)["a"], 2.0)
    assert math.isclose(scores.at(2 * HL, HL)["a"], 1.0)


def test_prune_keeps_the_strongest_signals_either_sign() -> None:
    scores = DecayedScores()
    for i, w in enumerate([1.0, -9.0, 3.0, 0.5]):
        scores.add(f"k{i}", w, 0.0, HL, limit=2)
    assert set(scores.scores) == {"k1", "k2"}


def test_scores_decayed_beyond_float_range_are_simply_gone() -> None:
    scores = DecayedScores()
    scores.add("Drama", 10.0, at=0.0, half_life=1800.0, limit=10)
    # 2**-(years / 30 min) underflows to 0.0: nothing is above any bar (no division by zero)
    assert scores.top_at_least(5, 0.05, when=3e7, half_life=1800.0) == []
    assert scores.top(5, when=3e7, half_life=1800.0) == [("Drama", 0.0)]
