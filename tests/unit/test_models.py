"""Item models fitted offline, on hand-made sequences whose answer is known."""

from __future__ import annotations

import numpy as np

from training import models


def test_sequential_regression_learns_what_follows_and_respects_users_and_held_out_items() -> None:
    # every user walks 0 -> 1 -> 2 -> 3; user 2 then goes on to 4, which is held out
    user = np.array([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 2])
    item = np.array([0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 4])
    keep = np.ones(item.size, dtype=bool)
    keep[-1] = False
    idx, w = models.sequential_regression(user, item, keep, n_items=5, n=2, lam=0.1, items=1, decay=1.0)
    assert idx[0, 0] == 1 and idx[1, 0] == 2 and idx[2, 0] == 3
    assert w[0, 0] > 0.9  # a (ridge-shrunk) certainty
    assert 4 not in idx[3]  # 3 -> 4 is held out; 3 -> 0 would cross users
    assert 0 not in idx[3]
    # with two items of history and decay, the item two steps back contributes too
    idx2, _ = models.sequential_regression(user, item, keep, n_items=5, n=3, lam=0.1, items=2, decay=0.5)
    assert idx2[0, 0] in (1, 2)


def test_window_ease_links_items_taken_up_together_not_merely_in_the_same_history() -> None:
    # many users, each: a, b together early, then much later c, d together
    user, item = [], []
    for u in range(30):
        early = list(range(10 + (u % 3) * 10, 20 + (u % 3) * 10))  # fillers, different before and after
        late = list(range(40 + (u % 3) * 10, 50 + (u % 3) * 10))
        user += [u] * 24
        item += [0, 1, *early, 2, 3, *late]
    user_a, item_a = np.array(user), np.array(item)
    keep = np.ones(item_a.size, dtype=bool)

    def weight(idx: np.ndarray, w: np.ndarray, a: int, b: int) -> float:
        hit = np.flatnonzero(idx[a] == b)
        return float(w[a, hit[0]]) if hit.size else 0.0

    idx, w = models.window_ease_neighbors(user_a, item_a, keep, n_items=70, lam=10.0, n=70, window=3, stride=1)
    assert idx[0, 0] == 1 and idx[2, 0] == 3
    # 2 and 3 are never within 3 steps of 0: at most a faint indirect link
    assert max(weight(idx, w, 0, 2), weight(idx, w, 0, 3)) < 0.1 * weight(idx, w, 0, 1)
    # over whole histories, 0 and 2 co-occur for every user: as linked as 0 and 1
    x = models.interaction_matrix(user_a, item_a, 30, 70)
    whole_idx, whole_w = models.ease_neighbors(x, lam=10.0, n=70)
    assert max(weight(whole_idx, whole_w, 0, 2), weight(whole_idx, whole_w, 0, 3)) > 0.2 * weight(
        whole_idx, whole_w, 0, 1
    )


def test_a_learned_ranker_that_loses_to_one_of_its_features_on_validation_is_not_served() -> None:
    from tests.modelkit import synthetic_events
    from training.dataset import Params, build_dataset, snapshots
    from training.evaluation import evaluate_a
    from training.parts import fit_parts, rec_model
    from training.ranker import guard_ranker, one_hot
    from training.table import table_from_events

    data = build_dataset(table_from_events(synthetic_events()))
    params = Params(method="ease", ease_lambda=50.0, neighbors=20)
    users = sorted(data.user_ids)
    shots = snapshots(data, users)
    parts = fit_parts(data, params, drop_last=2)
    # a "learned" ranker that learnt the wrong thing: it ranks neighbours of recent items last
    right = one_hot(params, "nbr_recent")
    wrong = right.model_copy(update={"coef": [-c for c in right.coef]})
    measured = evaluate_a(data, rec_model(data, parts, wrong), shots, "val")
    served, val = guard_ranker(data, parts, params, wrong, shots, measured, lambda _: None)
    assert served.kind.startswith("single feature: ")
    assert val["ndcg@10"] > measured["ndcg@10"]
    # a ranker that is at least as good as every single feature stays
    good = served
    kept, _ = guard_ranker(data, parts, params, good, shots, val, lambda _: None)
    assert kept.coef == good.coef
