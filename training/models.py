"""Item models fitted offline and exported as top-N lists: neighbours, transitions, popularity."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.preprocessing import normalize

EASE_MAX_ITEMS = 20_000  # dense inverse beyond this is too large; item-kNN is used instead


def interaction_matrix(rows: np.ndarray, cols: np.ndarray, n_users: int, n_items: int) -> sp.csr_matrix:
    """Binary user x item matrix from (user, item) pairs; repeated pairs count once."""
    x = sp.csr_matrix((np.ones(rows.size, dtype=np.float32), (rows, cols)), shape=(n_users, n_items))
    x.data[:] = 1.0  # duplicates collapse to one interaction
    return x


def top_n(scores: sp.csr_matrix | np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the ``n`` largest positive entries as (indexes, weights), -1 / 0 padded."""
    rows = scores.shape[0]
    idx = np.full((rows, n), -1, dtype=np.int32)
    w = np.zeros((rows, n), dtype=np.float32)
    if isinstance(scores, np.ndarray):
        for r in range(rows):
            row = scores[r]
            k = min(n, row.size)
            part = np.argpartition(-row, k - 1)[:k] if k else np.zeros(0, dtype=np.int64)
            part = part[row[part] > 0]
            part = part[np.argsort(-row[part], kind="stable")]
            idx[r, : part.size], w[r, : part.size] = part, row[part]
        return idx, w
    csr = scores.tocsr()
    for r in range(rows):
        start, end = csr.indptr[r], csr.indptr[r + 1]
        cols, vals = csr.indices[start:end], csr.data[start:end]
        keep = vals > 0
        cols, vals = cols[keep], vals[keep]
        if cols.size > n:
            part = np.argpartition(-vals, n - 1)[:n]
            cols, vals = cols[part], vals[part]
        order = np.argsort(-vals, kind="stable")
        idx[r, : order.size], w[r, : order.size] = cols[order], vals[order]
    return idx, w


def ease_neighbors(x: sp.csr_matrix, lam: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    """EASE (Steck 2019): B = I - P / diag(P), P = (XᵀX + λI)⁻¹; top-N per item, self excluded."""
    gram = (x.T @ x).toarray().astype(np.float64)
    gram[np.diag_indices_from(gram)] += lam
    p = np.linalg.inv(gram)
    b = -p / np.diag(p)
    np.fill_diagonal(b, 0.0)
    return top_n(b.astype(np.float32), n)


def cosine_neighbors(x: sp.csr_matrix, n: int, shrink: float = 10.0) -> tuple[np.ndarray, np.ndarray]:
    """Item-kNN: cosine similarity of item columns with shrinkage; top-N per item, self excluded."""
    xt = normalize(x.T.tocsr().astype(np.float32), norm="l2", axis=1)
    sim = (xt @ xt.T).tocsr()
    counts = np.asarray(x.sum(axis=0)).ravel()
    sim.setdiag(0.0)
    sim.eliminate_zeros()
    coo = sim.tocoo()
    support = np.minimum(counts[coo.row], counts[coo.col])
    sim = sp.csr_matrix((coo.data * support / (support + shrink), (coo.row, coo.col)), shape=sim.shape)
    return top_n(sim, n)


def transitions(
    user: np.ndarray, item: np.ndarray, keep: np.ndarray, n_items: int, n: int, window: int = 3
) -> tuple[np.ndarray, np.ndarray]:
    """What follows an item: j after i within ``window`` steps of the same user's sequence, weighted
    1/step, rows normalised. ``user``/``item`` are interactions grouped by user in time order; ``keep``
    marks those that may be learnt from (a prefix of each user's sequence)."""
    heads, tails, weights = [], [], []
    for step in range(1, window + 1):
        if item.size > step:
            ok = (user[:-step] == user[step:]) & keep[step:] & keep[:-step]
            heads.append(item[:-step][ok])
            tails.append(item[step:][ok])
            weights.append(np.full(int(ok.sum()), 1.0 / step, dtype=np.float32))
    if not heads or not sum(h.size for h in heads):
        return np.full((n_items, n), -1, dtype=np.int32), np.zeros((n_items, n), dtype=np.float32)
    h, t, w = np.concatenate(heads), np.concatenate(tails), np.concatenate(weights)
    ok = h != t
    mat = sp.csr_matrix((w[ok], (h[ok], t[ok])), shape=(n_items, n_items))
    mat.sum_duplicates()
    totals = np.asarray(mat.sum(axis=1)).ravel()
    mat = sp.diags(1.0 / np.maximum(totals, 1e-9)) @ mat
    return top_n(mat.tocsr(), n)


def popularity(
    item_seq: np.ndarray,
    times: np.ndarray,
    n_items: int,
    horizon: float,
    half_life: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Global popularity (share of the most popular item) and trending (decayed counts near ``horizon``)."""
    counts = np.bincount(item_seq, minlength=n_items).astype(np.float32)
    glob = counts / max(1.0, float(counts.max()))
    decay = np.exp2(-(horizon - times) / half_life).astype(np.float32)
    trend = np.bincount(item_seq, weights=decay, minlength=n_items).astype(np.float32)
    return glob, trend / max(1e-9, float(trend.max()))


def sequential_regression(
    user: np.ndarray,
    item: np.ndarray,
    keep: np.ndarray,
    n_items: int,
    n: int,
    lam: float,
    items: int,
    decay: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Session-aware linear item-to-item transitions (SLIT, Choi et al., SIGIR 2021), in closed form.

    Each interaction (after a user's first) is a target; its input is the user's previous ``items``
    interactions weighted ``decay ** steps back``, exactly the vector the scorer's ``transition``
    feature builds from a profile. ``W = (XᵀX + λI)⁻¹ XᵀY`` is the ridge regression from that recent
    history to the next item; top-N per item, self excluded. Dense in items (like EASE).
    """
    size = item.size
    targets = np.arange(1, size)
    targets = targets[(user[targets] == user[targets - 1]) & keep[targets]]
    rows, cols, vals = [], [], []
    for back in range(1, items + 1):
        source = targets - back
        ok = source >= 0
        ok[ok] &= user[source[ok]] == user[targets[ok]]
        rows.append(np.flatnonzero(ok))
        cols.append(item[source[ok]])
        vals.append(np.full(int(ok.sum()), decay ** (back - 1), dtype=np.float32))
    if not targets.size:
        return np.full((n_items, n), -1, dtype=np.int32), np.zeros((n_items, n), dtype=np.float32)
    x = sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(targets.size, n_items)
    )
    y = sp.csr_matrix(
        (np.ones(targets.size, dtype=np.float32), (np.arange(targets.size), item[targets])),
        shape=(targets.size, n_items),
    )
    gram = (x.T @ x).toarray().astype(np.float64)
    gram[np.diag_indices_from(gram)] += lam
    w = np.linalg.solve(gram, (x.T @ y).toarray().astype(np.float64))
    np.fill_diagonal(w, 0.0)
    return top_n(w.astype(np.float32), n)


def window_ease_neighbors(
    user: np.ndarray,
    item: np.ndarray,
    keep: np.ndarray,
    n_items: int,
    lam: float,
    n: int,
    window: int = 20,
    stride: int = 5,
) -> tuple[np.ndarray, np.ndarray]:
    """EASE on windows of consecutive interactions instead of whole histories (the SLIS half of SLIST,
    Choi et al., SIGIR 2021): items are similar when users take them up *together*, not merely at
    some point of a long history. A window of ``window`` interactions ends every ``stride`` steps."""
    ends = np.flatnonzero(keep)[::stride]
    rows, cols = [], []
    for back in range(window):
        source = ends - back
        ok = source >= 0
        ok[ok] &= (user[source[ok]] == user[ends[ok]]) & keep[source[ok]]
        rows.append(np.flatnonzero(ok))
        cols.append(item[source[ok]])
    r, c = np.concatenate(rows), np.concatenate(cols)
    x = sp.csr_matrix((np.ones(r.size, dtype=np.float32), (r, c)), shape=(ends.size, n_items))
    x.data[:] = 1.0
    return ease_neighbors(x, lam, n)
