"""Training on the two real M3M-CR quartets (cloudy/clear pairs with real cloud masks): the losses fall, the export
loads back as the checkpointed student, half-precision weights."""

import csv
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from model.training import TrainOptions, train

pytestmark = [pytest.mark.slow, pytest.mark.real_data]


@pytest.fixture
def m3m(shared_data):
    return shared_data / "m3m_cr"


def _opts(data, out, **kw):
    base = dict(data=str(data), dataset="m3m_cr", out=str(out), train_split="train,test", preset="tiny",
                batch_size=2, crop=96, threads=1, progress_bar=False, seed=3)
    base.update(kw)
    return TrainOptions(**base)


def _log(path):
    with open(path) as fh:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(fh)]


def test_overfits_the_two_quartets(m3m, tmp_path):
    summary = train(_opts(m3m, tmp_path, epochs=20, teacher_epochs=0, w_distill=0.0, crop=None, lr=4e-3,
                          cloud_probability=0.0))
    rows = _log(tmp_path / "log.csv")
    loss = [float(r["loss"]) for r in rows]
    ce = [float(r["ce"]) for r in rows]
    miou = [float(r["train_miou"]) for r in rows]
    assert len(rows) == 20
    assert np.mean(ce[-3:]) < 0.6 * np.mean(ce[:3]), ce
    assert np.mean(loss[-3:]) < np.mean(loss[:3])
    assert np.mean(miou[-3:]) > np.mean(miou[:3]) + 0.2, miou
    for name in ("loss.png", "log.csv", "model.pt", "checkpoint.pt", "summary.json"):
        assert (tmp_path / name).is_file()
    assert Path(summary["weights"]).is_file()


def test_export_and_load_round_trip(m3m, tmp_path):
    from model.datasets import open_dataset
    from model.network import build_model
    from model.training.samples import TrainingSet
    from model.weights import open_weights
    summary = train(_opts(m3m, tmp_path, epochs=1, teacher_epochs=1, onnx=True, val_split="test",
                          train_split="train"))
    weights = open_weights(summary["weights"])
    model, meta = weights.build_model(), weights.metadata
    assert meta["trained"] and meta["architecture"] == "edc" and meta["gsd_m"] == 3.0  # PlanetScope
    assert [c["name"] for c in meta["classes"]] == ["Forest", "Rangeland", "Agriculture", "Urban", "Barren", "Water"]
    assert meta["inputs"]["optical"]["bands"] == ["Blue", "Green", "Red", "NIR"]
    assert meta["inputs"]["sar"]["bands"] == ["VV", "VH"]
    assert meta["normalization"]["optical"]["method"] == "percentile"
    assert meta["training"]["dataset"] == "m3m_cr" and meta["training"]["epochs"] == 1
    assert set(meta["metrics"]) == {"validation_all", "validation_cloudy", "validation_clear"}
    assert open_weights(summary["onnx"]).metadata == meta
    for name in ("class_iou.png", "confusion.png"):
        assert (tmp_path / name).is_file()
    # the exported model is the checkpointed student: same outputs
    ckpt = torch.load(tmp_path / "checkpoint.pt", map_location="cpu", weights_only=True)
    again = build_model("edc", ckpt["config"])
    again.load_state_dict(ckpt["model"])
    again.eval()
    batch = TrainingSet(open_dataset("m3m_cr", m3m, "test"), meta["normalization"])[0]
    with torch.no_grad():
        a = model(batch["optical"][None], batch["sar"][None])["logits"]
        b = again(batch["optical"][None], batch["sar"][None])["logits"]
    assert torch.equal(a, b)


def test_half_weights_are_smaller_and_load(m3m, tmp_path):
    from model.weights import open_weights
    full = train(_opts(m3m, tmp_path / "a", epochs=1, teacher_epochs=0, w_distill=0.0))
    half = train(_opts(m3m, tmp_path / "b", epochs=1, teacher_epochs=0, w_distill=0.0, half_weights=True, onnx=True))
    assert os.path.getsize(half["weights"]) < 0.6 * os.path.getsize(full["weights"])
    model = open_weights(half["weights"]).build_model()
    assert all(p.dtype == torch.float32 for p in model.parameters())
    # the ONNX copy holds the same float16-rounded weights (as float16) and maps like the .pt file
    from model.inference.runtime import load_predictor
    assert open(half["onnx"], "rb").read().count(b".float16") > 10
    rng = np.random.default_rng(0)
    config = model.config
    optical = rng.random((1, config["in_optical"], 64, 64), np.float32)
    sar = rng.random((1, config["in_sar"], 64, 64), np.float32)
    with torch.no_grad():
        expected = model(torch.from_numpy(optical), torch.from_numpy(sar))["logits"].softmax(1).numpy()
    got = load_predictor(open_weights(half["onnx"]), device="cpu", log=None, int8=False).predict(optical, sar)[
        "probabilities"]
    np.testing.assert_allclose(got, expected, atol=5e-3)
