"""Model artefacts: round trip, checksums, refusal of tampered and pickled files, metrics, determinism."""

import io
import json
import pickle

import numpy as np
import pytest

from pulse.recommend.artifacts import ArtifactError, digest, load_model
from tests.modelkit import tiny_model, version_files
from training.evaluation import hit_ndcg_mrr


@pytest.fixture(scope="module")
def trained():
    return tiny_model()


def test_round_trip_with_checksum_verification(trained) -> None:
    manifest, files = version_files(trained, "v1")
    model = load_model("v1", manifest, files)
    assert model.version == "v1" and model.n_items == 48
    assert json.loads(manifest)["files"]["neighbors.npz"]["sha256"] == digest(files["neighbors.npz"])
    assert model.neighbors.n_items == model.transitions.n_items == model.n_items


@pytest.mark.parametrize("damage", ["flip", "truncate", "missing"])
def test_tampered_or_truncated_files_are_refused(trained, damage) -> None:
    manifest, files = version_files(trained, "v1")
    if damage == "flip":
        data = bytearray(files["transitions.npz"])
        data[len(data) // 2] ^= 0xFF
        files["transitions.npz"] = bytes(data)
    elif damage == "truncate":
        files["popularity.npz"] = files["popularity.npz"][:100]
    else:
        del files["ranker.json"]
    with pytest.raises(ArtifactError):
        load_model("v1", manifest, files)


def test_digests_the_reader_computed_are_compared_instead_of_hashing_again(trained) -> None:
    manifest, files = version_files(trained, "v1")
    digests = {name: digest(data) for name, data in files.items()}
    assert load_model("v1", manifest, files, digests).n_items == 48
    wrong = digests | {"transitions.npz": digest(b"something else")}
    with pytest.raises(ArtifactError, match=r"transitions\.npz"):
        load_model("v1", manifest, files, wrong)
    data = bytearray(files["transitions.npz"])
    data[len(data) // 2] ^= 0xFF  # a digest missing from the reader's is computed here
    with pytest.raises(ArtifactError, match=r"transitions\.npz"):
        load_model("v1", manifest, files | {"transitions.npz": bytes(data)}, {"ranker.json": digests["ranker.json"]})


def test_pickled_arrays_are_refused_even_with_a_matching_manifest(trained) -> None:
    manifest, files = version_files(trained, "v1")
    buffer = io.BytesIO()
    np.savez(buffer, idx=np.array([{"evil": 1}], dtype=object), w=np.zeros(1))
    files["neighbors.npz"] = buffer.getvalue()
    doc = json.loads(manifest)
    doc["files"]["neighbors.npz"] = {"sha256": digest(files["neighbors.npz"]), "size": len(files["neighbors.npz"])}
    with pytest.raises(ArtifactError, match="safe"):
        load_model("v1", json.dumps(doc).encode(), files)


def test_only_npz_npy_and_json_files_are_allowed(trained) -> None:
    manifest, files = version_files(trained, "v1")
    files["model.pkl"] = pickle.dumps({"x": 1})
    doc = json.loads(manifest)
    doc["files"]["model.pkl"] = {"sha256": digest(files["model.pkl"]), "size": len(files["model.pkl"])}
    with pytest.raises(ArtifactError, match="only"):
        load_model("v1", json.dumps(doc).encode(), files)


def test_metric_functions_on_hand_computed_cases() -> None:
    assert hit_ndcg_mrr(["a", "b", "c"], "a") == (1.0, 1.0, 1.0)
    hit, ndcg, mrr = hit_ndcg_mrr(["a", "b", "c"], "c")
    assert hit == 1.0 and ndcg == pytest.approx(0.5) and mrr == pytest.approx(1 / 3)
    assert hit_ndcg_mrr(["a"] * 10 + ["z"], "z") == (0.0, 0.0, 0.0)  # beyond k=10


def test_training_is_deterministic(trained) -> None:
    again = tiny_model()
    assert again.files == trained.files
    assert tiny_model(seed=2).files != trained.files


def test_learned_ranker_beats_its_baselines_on_the_synthetic_log(trained) -> None:
    a = trained.metrics["protocol_a"]
    assert a["test"]["ndcg@10"] > a["baselines"]["popularity"]["ndcg@10"]
    assert a["test"]["ndcg@10"] > a["baselines"]["ease"]["ndcg@10"]
    assert trained.metrics["cold_start_served"] in ("segment", "global")
