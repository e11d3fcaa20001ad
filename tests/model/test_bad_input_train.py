"""Issue 6 through the training command ``python -m model.train`` (a subprocess, as a user runs it): bad dataset
folders and options end with a one-line message and exit status 2, no traceback and no weights; a run killed at any
point resumes from its last checkpoint to the same weights as an uninterrupted run."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
FAST = ["--preset", "tiny", "--batch-size", "2", "--crop", "32", "--threads", "1", "--no-progress-bar",
        "--val-fraction", "0", "--seed", "5"]


def generic(root, writer, n=4, label_value=None, classes=("land", "water")):
    """A generic-layout dataset of ``n`` tiny samples (optical 10 m, SAR 20 m, labels 0/1)."""
    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    (root / "classes.json").write_text(json.dumps([{"name": c, "color": "#336699"} for c in classes]))
    for folder in ("optical", "sar", "label"):
        (root / folder).mkdir(exist_ok=True)
    gt = (500000.0, 10.0, 0.0, 4600000.0, 0.0, -10.0)
    for i in range(n):
        label = np.zeros((32, 32), np.uint8)
        label[:, 16:] = 1
        optical = rng.integers(100, 3000, (3, 32, 32)).astype(np.uint16)
        optical[:, label == 1] //= 5
        writer(root / "optical" / f"s{i}.tif", optical, gt)
        writer(root / "sar" / f"s{i}.tif", rng.normal(-10, 2, (2, 16, 16)).astype(np.float32),
               (gt[0], 20.0, 0.0, gt[3], 0.0, -20.0))
        if label_value is not None and i == n - 1:
            label[5, 5] = label_value
        writer(root / "label" / f"s{i}.tif", label, gt)
    return root


def cli(*args, env=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "model.train", *map(str, args)], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout, env=env)


def assert_clean_failure(run, out, *expected):
    assert run.returncode == 2, run.stdout[-2000:] + run.stderr[-2000:]
    shown = run.stdout + run.stderr
    assert not any(t in shown for t in ("Traceback", 'File "')), shown[-3000:]
    for text in expected:
        assert text in shown, shown[-3000:]
    assert not list(Path(out).glob("*.pt")), "a failed run left weights behind"


def _whu_mislabelled(root, writer):
    """WHU-OPT-SAR layout whose labels are checked only when a sample is read (during training)."""
    gt = (500000.0, 10.0, 0.0, 4600000.0, 0.0, -10.0)
    rng = np.random.default_rng(1)
    for folder in ("optical", "sar", "lbl"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    for i in range(2):
        label = np.full((32, 32), 10, np.uint8)
        label[0, 0] = 15 if i else 10
        writer(root / "optical" / f"a{i}.tif", rng.integers(0, 255, (4, 32, 32)).astype(np.uint8), gt)
        writer(root / "sar" / f"a{i}.tif", rng.normal(size=(1, 32, 32)).astype(np.float32), gt)
        writer(root / "lbl" / f"a{i}.tif", label, gt)
    return root


CASES = {
    "folder_missing": (lambda d, w: d / "nowhere", [], ["does not exist"]),
    "folder_empty": (lambda d, w: (d / "empty").mkdir() or d / "empty", [], ["Cannot tell which kind of dataset"]),
    "generic_without_samples": (lambda d, w: generic(d / "g", w, n=0), ["--dataset", "generic"],
                                ["no", "optical/, sar/ and label/"]),
    "label_outside_classes": (lambda d, w: generic(d / "g", w, label_value=7), [],
                              ["label values [7] are outside the 2 classes", "Fix the label raster"]),
    "whu_label_not_a_class": (_whu_mislabelled, ["--dataset", "whu_opt_sar"], ["values [15]"]),
    "unpaired_files": (lambda d, w: (generic(d / "g", w), (d / "g" / "sar" / "s2.tif").unlink())[0], [],
                       ["have no partner (e.g. 's2')", "remove the unpaired files or add the missing ones"]),
    "no_classes_json": (lambda d, w: (generic(d / "g", w), (d / "g" / "classes.json").unlink())[0],
                        ["--dataset", "generic"], ["has no classes.json"]),
    "bad_classes_json": (lambda d, w: (generic(d / "g", w), (d / "g" / "classes.json").write_text("{oops"))[0],
                         [], ["classes.json"]),
    "cuda_without_gpu": (lambda d, w: generic(d / "g", w), ["--device", "cuda"], ["--device cuda", "--device cpu"]),
    "resume_without_checkpoint": (lambda d, w: generic(d / "g", w), ["--resume"],
                                  ["no checkpoint", "start without --resume"]),
    "cloud_cover_out_of_range": (lambda d, w: generic(d / "g", w), ["--max-cloud-coverage", "1.5"],
                                 ["--max-cloud-coverage 1.5 is outside 0.05..1"]),
    "sar_width_out_of_range": (lambda d, w: generic(d / "g", w), ["--sar-width", "3"],
                               ["--sar-width 3.0 is outside 0.05..2"]),
    "sar_width_for_a_baseline": (lambda d, w: generic(d / "g", w), ["--sar-width", "1", "--architecture",
                                                                     "early_concat"],
                                 ["--sar-width applies to the EDC network only"]),
    "epochs_not_a_number": (lambda d, w: generic(d / "g", w), ["--epochs", "ten"], ["--epochs", "invalid int"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_training_input(case, raster_writer, tmp_path):
    if case == "cuda_without_gpu":
        import torch
        if torch.cuda.is_available():
            pytest.skip("this machine has a CUDA GPU")
    build, extra, expected = CASES[case]
    data, out = build(tmp_path, raster_writer), tmp_path / "run"
    run = cli("--data", data, "--out", out, "--epochs", "1", "--teacher-epochs", "0", *FAST, *extra)
    assert_clean_failure(run, out, *expected)
    if case not in ("epochs_not_a_number",):
        assert run.stderr.startswith("error: ") or "\nerror: " in run.stderr, run.stderr[-2000:]


def test_out_is_a_file(raster_writer, tmp_path):
    data = generic(tmp_path / "g", raster_writer)
    (tmp_path / "taken").write_text("a file")
    run = cli("--data", data, "--out", tmp_path / "taken", "--epochs", "1", "--teacher-epochs", "0", *FAST)
    assert_clean_failure(run, tmp_path / "taken", "taken")


def _weights(path):
    import torch
    return torch.load(path, map_location="cpu", weights_only=True)["state_dict"]


@pytest.mark.parametrize("kill_at", ["phase=student epoch=1", "phase=student epoch=2"])
def test_killed_training_resumes_to_the_same_weights(kill_at, raster_writer, tmp_path):
    """SIGKILL as soon as a student epoch is logged (its checkpoint may be half written); --resume ends with exactly
    the weights of an uninterrupted run."""
    data = generic(tmp_path / "g", raster_writer, n=6)
    args = ["--data", data, "--epochs", "3", "--teacher-epochs", "1", *FAST]
    full = cli(*args, "--out", tmp_path / "full")
    assert full.returncode == 0, full.stderr[-2000:]
    cut = tmp_path / "cut"
    child = subprocess.Popen([sys.executable, "-m", "model.train", *map(str, args), "--out", str(cut)], cwd=REPO,
                             stderr=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    for line in child.stderr:
        if kill_at in line:
            child.send_signal(signal.SIGKILL)
            break
    child.wait(timeout=120)
    assert child.returncode == -signal.SIGKILL
    assert (cut / "checkpoint.pt").is_file() and not (cut / "model.pt").exists()
    resumed = cli(*args, "--out", cut, "--resume")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "Resuming at" in resumed.stderr
    a, b = _weights(tmp_path / "full" / "model.pt"), _weights(cut / "model.pt")
    assert a.keys() == b.keys() and all((a[k] == b[k]).all() for k in a)
