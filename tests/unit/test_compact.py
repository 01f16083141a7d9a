"""Compact model data (format 2): lists without padding, category codes, metadata lines, id blobs; and
format 1 versions, published before it, still load and answer exactly as before."""

import io
import json

import numpy as np
import pytest

from pulse.recommend.artifacts import ArtifactError, build_manifest, load_model, model_files, npz_bytes
from pulse.recommend.compact import Categories, ItemLists, Metadata, ids_blob, ids_from_blob
from pulse.recommend.scorer import Scorer
from tests.modelkit import tiny_model
from tests.unit.test_scorer_equivalence import profile


def test_lists_keep_every_real_entry_of_the_padded_rows_in_order() -> None:
    idx = np.array([[2, 1, -1], [-1, -1, -1], [0, 2, 1]], dtype=np.int32)
    w = np.array([[0.9, 0.5, 0.0], [0.0, 0.0, 0.0], [0.7, 0.6, 0.1]], dtype=np.float32)
    lists = ItemLists.from_padded(idx, w)
    assert lists.ptr.tolist() == [0, 2, 2, 5] and lists.valid(3) and not lists.valid(2)  # 2 is out of range
    assert lists.row(0)[0].tolist() == [2, 1] and lists.row(1)[0].size == 0
    targets, weights, owner = lists.gather(np.array([2, 0, 1, 2]))
    assert targets.tolist() == [0, 2, 1, 2, 1, 0, 2, 1] and owner.tolist() == [0, 0, 0, 1, 1, 3, 3, 3]
    assert np.array_equal(weights, np.array([0.7, 0.6, 0.1, 0.9, 0.5, 0.7, 0.6, 0.1], dtype=np.float32))
    assert not ItemLists(np.array([0, 3, 2]), lists.idx[:2], lists.w[:2]).valid(2)  # decreasing pointers


def test_float16_weights_keep_11_significant_bits_over_29_binades_and_never_reorder_a_list() -> None:
    ptr = np.array([0, 3, 5])
    idx = np.arange(5, dtype=np.int32)
    for w in ([0.9, 0.5, 0.25, 0.8, 0.7], [3e-6, 2e-6, 1e-7, 0.0, -4e-6], [4000.0, 30.0, 0.01, 2.0, -1.0]):
        wide = ItemLists(ptr, idx, np.array(w, dtype=np.float32))
        half = wide.narrowed()
        assert half.w.dtype == np.float16, w
        back = half.gather(np.array([0, 1]))[1]
        assert np.allclose(back, wide.w, rtol=2.0**-11, atol=0) and back.dtype == np.float32
        assert np.all(np.diff(back[:3]) <= 0) and np.all(np.diff(back[3:]) <= 0)  # order kept (ties allowed)
    too_wide = ItemLists(ptr, idx, np.array([1e6, 1.0, 1e-6, 1.0, 1.0], dtype=np.float32))  # 40 binades
    assert too_wide.narrowed().w.dtype == np.float32


def test_served_lists_spread_the_same_contributions_from_blocks_and_from_csr() -> None:
    rng = np.random.default_rng(3)
    lengths = rng.integers(3, 9, 50)
    lengths[7], lengths[9] = 8, 0
    ptr = np.concatenate([[0], np.cumsum(lengths)])
    csr = ItemLists(ptr, rng.integers(0, 50, ptr[-1]).astype(np.int32), rng.random(ptr[-1]).astype(np.float32))
    blocks = csr.narrowed().widened()
    assert blocks.padded is not None and blocks.padded[0].shape == (50, 8)  # 5.5 of 8 filled on average
    rows, weights = np.array([7, 0, 3, 3, 49]), np.array([0.5, 1.0, 0.25, 2.0, 3.0], dtype=np.float32)
    plain = ItemLists(blocks.ptr, blocks.idx, blocks.w)  # the same float32 weights, CSR only
    for served in (blocks, plain):
        targets, contributions = served.spread(rows, weights)
        real = targets >= 0
        expected_targets, w, owner = plain.gather(rows)
        assert np.array_equal(targets[real], expected_targets)
        assert np.array_equal(contributions[real], weights[owner] * w) and not contributions[~real].any()


def test_categories_metadata_and_ids_round_trip() -> None:
    lists = [["shoes", "sale"], [], ["books"], ["sale"]]
    cats = Categories.from_lists(lists)
    assert list(cats) == lists and len(cats) == 4 and cats[-1] == ["sale"] and cats.valid(4)
    assert {k: v.tolist() for k, v in cats.members().items()} == {"books": [2], "sale": [0, 3], "shoes": [0]}
    assert [cats.names[c] if c < len(cats.names) else None for c in cats.primary()] == ["shoes", None, "books", "sale"]
    meta = Metadata.from_dicts([{"title": "Ünïcode \n line"}, {}, {"price": 3.5}])
    assert list(meta) == [{"title": "Ünïcode \n line"}, {}, {"price": 3.5}] and meta.valid(3)
    broken = Metadata(np.frombuffer(b'{"a":1}not json', dtype=np.uint8), np.array([0, 7, 15]))
    assert broken[0] == {"a": 1} and broken[1] == {}  # a bad line never fails a page
    ids = ["sku-1", "with\nnewline", "ünï", "a,b"]
    assert ids_from_blob(ids_blob(ids), 4) == ids
    with pytest.raises(ValueError, match="4 item ids for 3 items"):
        ids_from_blob(ids_blob(ids), 3)


def format_1_files(model) -> dict[str, bytes]:
    """The model as format 1 stored it: padded lists, the catalogue as JSON lists."""

    def padded(lists: ItemLists) -> dict[str, np.ndarray]:
        width = max(1, int(np.diff(lists.ptr).max()))
        idx = np.full((lists.n_items, width), -1, dtype=np.int32)
        w = np.zeros((lists.n_items, width), dtype=np.float32)
        for i in range(lists.n_items):
            row_idx, row_w = lists.row(i)
            idx[i, : row_idx.size], w[i, : row_w.size] = row_idx, row_w
        return {"idx": idx, "w": w}

    catalog = {
        "item_ids": model.item_ids,
        "metadata": list(model.metadata),
        "categories": list(model.categories),
        "available": model.available.tolist(),
        "segments": model.segment_names,
    }
    files = model_files(model, narrow=False)
    del files["items.npz"]
    files |= {
        "catalog.json": json.dumps(catalog).encode(),
        "neighbors.npz": npz_bytes(**padded(model.neighbors)),
        "transitions.npz": npz_bytes(**padded(model.transitions)),
    }
    return files


def loaded(files: dict[str, bytes], format_version: int):
    manifest = build_manifest("v", files) | {"format_version": format_version}
    return load_model("v", json.dumps(manifest).encode(), files)


def test_a_format_1_version_answers_exactly_as_its_format_2_copy_and_float16_keeps_the_pages() -> None:
    result = tiny_model()
    current = loaded(result.files, 2)
    old = loaded(format_1_files(current), 1)
    wide = loaded(model_files(current, narrow=False), 2)
    for name in ("neighbors.npz", "transitions.npz"):  # the trained lists are stored narrowed, served wide
        assert np.load(io.BytesIO(result.files[name]), allow_pickle=False)["w"].dtype == np.float16
    assert current.neighbors.w.dtype == np.float32 and current.neighbors.padded is not None
    rng = np.random.default_rng(5)
    for user, length in enumerate([0, 1, 3, 10, 40, 120]):
        user_profile = profile(current, user, length, rng) if length else None
        pages = [Scorer(m).recommend(user_profile, k=10, explain=True) for m in (old, wide, current)]
        assert [(r.item_id, r.score, r.reasons, r.metadata) for r in pages[0]] == [
            (r.item_id, r.score, r.reasons, r.metadata) for r in pages[1]
        ]
        assert [r.item_id for r in pages[2]] == [r.item_id for r in pages[0]]  # float16: the same page


def test_inconsistent_format_2_files_are_refused() -> None:
    files = model_files(loaded(tiny_model().files, 2))
    broken = dict(files)
    arrays = dict(np.load(io.BytesIO(files["neighbors.npz"]), allow_pickle=False))
    for ptr in (arrays["ptr"][::-1].copy(), np.concatenate([[0, 10**12], arrays["ptr"][2:]])):
        broken["neighbors.npz"] = npz_bytes(**(arrays | {"ptr": ptr}))  # refused before any list is laid out
        with pytest.raises(ArtifactError, match="inconsistent"):
            loaded(broken, 2)
    del files["items.npz"]
    with pytest.raises(ArtifactError, match=r"items\.npz"):
        loaded(files, 2)
