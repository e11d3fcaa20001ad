"""``python -m model.train`` as a user runs it, in a subprocess: the entry point and its exit statuses, a run killed
from the outside (SIGKILL) at any point resuming to exactly the uninterrupted run's weights and log, and two
processes under torchrun.  (The error cases themselves run in-process: tests/unit/training/test_cli.py.)"""

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from helpers.datasets import FAST, generic_folder

from model.training.cli import main

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[3]
ENV = dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1")
RUN = ["--epochs", "3", "--teacher-epochs", "1", *FAST]     # teacher 1 + student 3 epochs


def command(*args):
    return [sys.executable, "-m", "model.train", *map(str, args)]


def _log(path):
    with open(path) as fh:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(fh)]


def _state(path):
    return torch.load(path, map_location="cpu", weights_only=True)["state_dict"]


def test_entry_point_exit_statuses(tmp_path):
    help_ = subprocess.run(command("--help"), cwd=REPO, capture_output=True, text=True, timeout=60)
    assert help_.returncode == 0 and "--batch-size" in help_.stdout and "--resume" in help_.stdout
    (tmp_path / "empty").mkdir()
    bad = subprocess.run(command("--data", tmp_path / "empty", "--out", tmp_path / "run"), cwd=REPO,
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stderr.startswith("error: Cannot tell which kind of dataset"), bad.stderr
    assert "Traceback" not in bad.stderr and not list((tmp_path / "run").glob("*.pt"))
    usage = subprocess.run(command("--data", tmp_path, "--epochs", "ten"), cwd=REPO, capture_output=True, text=True,
                           timeout=60)
    assert usage.returncode == 2 and "invalid int value: 'ten'" in usage.stderr


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """(data folder, work folder of the uninterrupted run)."""
    root = tmp_path_factory.mktemp("kill")
    data = generic_folder(root / "g", n=6, size=48)
    assert main(["--data", str(data), "--out", str(root / "full"), *RUN]) == 0
    return data, root / "full"


def _kill_after_checkpoints(child, checkpoint, count):
    """SIGKILL ``child`` as soon as ``checkpoint`` has been replaced ``count`` times (epochs finished)."""
    versions = set()
    while len(versions) < count:
        assert child.poll() is None, "the run ended before it could be killed"
        try:
            st = os.stat(checkpoint)
            versions.add((st.st_ino, st.st_mtime_ns, st.st_size))
        except FileNotFoundError:
            pass
        time.sleep(0.002)
    child.send_signal(signal.SIGKILL)


def _kill_at_line(child, text):
    """SIGKILL ``child`` as soon as it logs ``text`` (before that epoch's logs and checkpoint are written)."""
    for line in child.stderr:
        if text in line:
            child.send_signal(signal.SIGKILL)
            return
    pytest.fail(f"the run never logged {text!r}")


# killed between phases, and mid-checkpoint (the epoch logged, its checkpoint not yet written); a kill right after an
# ordinary student checkpoint resumes the same way as the phase switch (kept out for the suite's time)
@pytest.mark.parametrize("kill", ["teacher checkpointed", "student epoch 2 logged"])
def test_killed_run_resumes_to_the_uninterrupted_result(kill, uninterrupted, tmp_path):
    data, full = uninterrupted
    cut = tmp_path / "cut"
    child = subprocess.Popen(command("--data", data, "--out", cut, *RUN), cwd=REPO, env=ENV, text=True,
                             stderr=subprocess.PIPE if kill.endswith("logged") else subprocess.DEVNULL)
    try:
        if kill.endswith("logged"):
            _kill_at_line(child, "phase=student epoch=2")
        else:
            _kill_after_checkpoints(child, cut / "checkpoint.pt", 1 if kill.startswith("teacher") else 2)
        child.wait(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == -signal.SIGKILL
    assert not (cut / "model.pt").exists()
    saved = torch.load(cut / "checkpoint.pt", map_location="cpu", weights_only=True)
    if not kill.endswith("logged"):
        assert len(saved["history"]) == (1 if kill.startswith("teacher") else 2)
    resumed = subprocess.run(command("--data", data, "--out", cut, *RUN, "--resume"), cwd=REPO, env=ENV,
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "Resuming at" in resumed.stderr
    assert _log(cut / "log.csv") == _log(full / "log.csv")
    a, b = _state(full / "model.pt"), _state(cut / "model.pt")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_torchrun_two_processes(tmp_path):
    """DistributedDataParallel (gloo) under torchrun: both processes train on their half of every epoch, rank 0
    logs and writes one weights file that edc:segment's loader accepts."""
    from model.weights import open_weights
    data = generic_folder(tmp_path / "g", n=8)
    out = tmp_path / "ddp"
    run = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                          "-m", "model.train", "--data", str(data), "--out", str(out), "--epochs", "2",
                          "--teacher-epochs", "1", *FAST], cwd=REPO, env=ENV, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert [(r["phase"], r["epoch"]) for r in _log(out / "log.csv")] == [("teacher", "1"), ("student", "1"),
                                                                          ("student", "2")]
    assert run.stderr.count("phase=student epoch=1") == 1
    assert sorted(p.name for p in out.glob("*.pt")) == ["checkpoint.pt", "model.pt"]
    weights = open_weights(out / "model.pt")
    assert weights.metadata["trained"] and [c["name"] for c in weights.metadata["classes"]] == ["land", "water"]
    assert not any(k.startswith("module.") for k in weights.state)   # saved without the DDP wrapper
    weights.build_model()
