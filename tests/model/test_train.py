"""Training: overfitting the two M3M-CR quartets, kill-and-resume, export/load round trip, the CLI, bad folders."""

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from model.errors import EDCDatasetError
from model.train import TrainOptions, train

REPO = Path(__file__).resolve().parents[2]
M3M = (REPO / ".." / "shared" / "data" / "m3m_cr").resolve()


@pytest.fixture
def m3m():
    if not M3M.is_dir():
        pytest.skip(f"real M3M-CR samples not found at {M3M} (a fresh clone has no ../shared)")
    return M3M


def _opts(data, out, **kw):
    base = dict(data=str(data), dataset="m3m_cr", out=str(out), train_split="train,test", preset="tiny",
                batch_size=2, crop=96, threads=1, progress_bar=False, seed=3)
    base.update(kw)
    return TrainOptions(**base)


def _log(path):
    with open(path) as fh:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(fh)]


def test_overfits_the_two_quartets(m3m, tmp_path):
    torch.set_num_threads(1)
    summary = train(_opts(m3m, tmp_path, epochs=40, teacher_epochs=0, w_distill=0.0, crop=None, lr=4e-3,
                          cloud_probability=0.0))
    rows = _log(tmp_path / "log.csv")
    loss = [float(r["loss"]) for r in rows]
    ce = [float(r["ce"]) for r in rows]
    miou = [float(r["train_miou"]) for r in rows]
    assert len(rows) == 40
    assert np.mean(ce[-3:]) < 0.6 * np.mean(ce[:3]), ce
    assert np.mean(loss[-3:]) < np.mean(loss[:3])
    assert np.mean(miou[-3:]) > np.mean(miou[:3]) + 0.2, miou
    for name in ("loss.png", "log.csv", "model.pt", "checkpoint.pt"):
        assert (tmp_path / name).is_file()
    assert Path(summary["weights"]).is_file()


def _state(path):
    return torch.load(path, map_location="cpu", weights_only=True)["state_dict"]


@pytest.mark.parametrize("killed_after", [1, 2])
def test_kill_and_resume_equals_uninterrupted(m3m, tmp_path, killed_after):
    """teacher 1 epoch + student 2 epochs; the CLI process dies right after epoch ``killed_after`` was saved."""
    common = dict(epochs=2, teacher_epochs=1)
    train(_opts(m3m, tmp_path / "full", **common))
    args = [sys.executable, "-m", "model.train", "--data", str(m3m), "--dataset", "m3m_cr", "--out",
            str(tmp_path / "cut"), "--train-split", "train,test", "--preset", "tiny", "--batch-size", "2",
            "--crop", "96", "--threads", "1", "--no-progress-bar", "--seed", "3", "--epochs", "2",
            "--teacher-epochs", "1"]
    env = dict(os.environ, EDC_TRAIN_ABORT_AFTER_EPOCHS=str(killed_after))
    killed = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert killed.returncode == 3, killed.stderr
    assert not (tmp_path / "cut" / "model.pt").exists()
    assert len(_log(tmp_path / "cut" / "log.csv")) == killed_after
    resumed = subprocess.run(args + ["--resume"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert "Resuming at" in resumed.stderr
    assert _log(tmp_path / "cut" / "log.csv") == _log(tmp_path / "full" / "log.csv")
    full, cut = _state(tmp_path / "full" / "model.pt"), _state(tmp_path / "cut" / "model.pt")
    assert full.keys() == cut.keys()
    assert all(torch.equal(full[k], cut[k]) for k in full)


def test_resume_with_other_options_is_refused(m3m, tmp_path):
    train(_opts(m3m, tmp_path, epochs=1, teacher_epochs=0, w_distill=0.0))
    with pytest.raises(Exception, match="options lr differ"):
        train(_opts(m3m, tmp_path, epochs=1, teacher_epochs=0, w_distill=0.0, lr=0.1, resume=True))


def test_export_and_load_round_trip(m3m, tmp_path):
    from model.datasets import open_dataset
    from model.datasets.training import TrainingSet
    from model.weights import load_weights, read_metadata
    summary = train(_opts(m3m, tmp_path, epochs=1, teacher_epochs=1, onnx=True, val_split="test",
                          train_split="train"))
    model, meta = load_weights(summary["weights"])
    assert meta["trained"] and meta["architecture"] == "edc"
    assert [c["name"] for c in meta["classes"]] == ["Forest", "Rangeland", "Agriculture", "Urban", "Barren", "Water"]
    assert meta["inputs"]["optical"]["bands"] == ["Blue", "Green", "Red", "NIR"]
    assert meta["inputs"]["sar"]["bands"] == ["VV", "VH"]
    assert meta["normalization"]["optical"]["method"] == "percentile"
    assert meta["training"]["dataset"] == "m3m_cr" and meta["training"]["epochs"] == 1
    assert set(meta["metrics"]) == {"validation_all", "validation_cloudy", "validation_clear"}
    assert read_metadata(summary["onnx"]) == meta
    # the exported model is the checkpointed student: same outputs
    ckpt = torch.load(tmp_path / "checkpoint.pt", map_location="cpu", weights_only=True)
    from model.network import build_model
    again = build_model("edc", ckpt["config"])
    again.load_state_dict(ckpt["model"])
    again.eval()
    batch = TrainingSet(open_dataset("m3m_cr", m3m, "test"), meta["normalization"])[0]
    with torch.no_grad():
        a = model(batch["optical"][None], batch["sar"][None])["logits"]
        b = again(batch["optical"][None], batch["sar"][None])["logits"]
    assert torch.equal(a, b)


def test_half_weights_are_smaller_and_load(m3m, tmp_path):
    from model.weights import load_weights
    full = train(_opts(m3m, tmp_path / "a", epochs=1, teacher_epochs=0, w_distill=0.0))
    half = train(_opts(m3m, tmp_path / "b", epochs=1, teacher_epochs=0, w_distill=0.0, half_weights=True))
    assert os.path.getsize(half["weights"]) < 0.6 * os.path.getsize(full["weights"])
    model, _ = load_weights(half["weights"])
    assert all(p.dtype == torch.float32 for p in model.parameters())


def test_bad_dataset_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(EDCDatasetError, match="Found no ombria samples"):
        train(TrainOptions(data=str(tmp_path / "empty"), dataset="ombria", out=str(tmp_path / "run")))
    cli = subprocess.run([sys.executable, "-m", "model.train", "--data", str(tmp_path / "empty"), "--out",
                          str(tmp_path / "run")], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert cli.returncode == 2
    assert "error: Cannot tell which kind of dataset" in cli.stderr and "Traceback" not in cli.stderr


def test_torchrun_two_cpu_processes(m3m, tmp_path):
    """DistributedDataParallel (gloo) under torchrun: both processes train, rank 0 writes logs and weights."""
    torchrun = Path(sys.executable).with_name("torchrun")
    if not torchrun.exists():
        pytest.skip("torchrun is not installed next to this Python")
    run = subprocess.run([str(torchrun), "--standalone", "--nproc_per_node=2", "-m", "model.train", "--data",
                          str(m3m), "--dataset", "m3m_cr", "--train-split", "train,test", "--out", str(tmp_path),
                          "--preset", "tiny", "--epochs", "1", "--teacher-epochs", "1", "--batch-size", "1",
                          "--crop", "64", "--threads", "1", "--no-progress-bar"],
                         cwd=REPO, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert (tmp_path / "model.pt").is_file() and len(_log(tmp_path / "log.csv")) == 2
    assert run.stderr.count("phase=student epoch=1") == 1


def test_sar_width_option_builds_a_full_width_sar_stream(m3m, tmp_path):
    """``--sar-width 1.0`` through the CLI: the weights carry a SAR stream as wide as the optical one (4 stages of
    16-32-48-64 channels in the tiny preset instead of 8-16-24-32) and load back into a network of that shape."""
    from model.network import build_model, preset_config
    from model.weights import load_weights
    run = subprocess.run([sys.executable, "-m", "model.train", "--data", str(m3m), "--dataset", "m3m_cr",
                          "--train-split", "train,test", "--out", str(tmp_path), "--preset", "tiny", "--epochs", "1",
                          "--teacher-epochs", "1", "--crop", "96", "--batch-size", "2", "--threads", "1",
                          "--no-progress-bar", "--sar-width", "1.0"], cwd=REPO, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    model, meta = load_weights(tmp_path / "model.pt")
    assert meta["config"]["sar_dims"] == meta["config"]["dims"] == [16, 32, 48, 64]
    with torch.no_grad():
        feats = model.sar(torch.randn(1, 2, 64, 64))
    assert [f.shape[1] for f in feats] == [16, 32, 48, 64]
    half = build_model("edc", preset_config("tiny", 4, 2, 6))
    assert sum(p.numel() for p in model.parameters()) > sum(p.numel() for p in half.parameters())
