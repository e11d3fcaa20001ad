"""Multi-process training with torchrun (DistributedDataParallel, gloo on the CPU): ranks split every epoch's
samples, and a 2-process run ends with one weights file that edc:segment's loader accepts."""

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from model.train import _Dist

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("n", [10, 11])
def test_ranks_split_the_epoch(n):
    order = list(range(100, 100 + n))
    shards = []
    for rank in range(2):
        dist = _Dist.__new__(_Dist)          # the rank bookkeeping only, no process group
        dist.world, dist.rank = 2, rank
        shards.append(dist.shard(order))
    assert len(shards[0]) == len(shards[1]) == n // 2      # equal steps per rank, or DDP would hang
    assert not set(shards[0]) & set(shards[1])
    assert set(shards[0]) | set(shards[1]) == set(order[:n // 2 * 2])


def test_torchrun_two_processes(raster_writer, tmp_path):
    from model.weights import load_weights
    from test_bad_input_train import FAST, generic

    data = generic(tmp_path / "g", raster_writer, n=8)
    out = tmp_path / "ddp"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    run = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                          "-m", "model.train", "--data", str(data), "--out", str(out), "--epochs", "2",
                          "--teacher-epochs", "1", *FAST], cwd=REPO, env=env, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    with open(out / "log.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["phase"], r["epoch"]) for r in rows] == [("teacher", "1"), ("student", "1"), ("student", "2")]
    assert sorted(p.name for p in out.glob("*.pt")) == ["checkpoint.pt", "model.pt"]
    model, meta = load_weights(out / "model.pt", device="cpu")
    assert meta["trained"] and [c["name"] for c in meta["classes"]] == ["land", "water"]
    assert not any(k.startswith("module.") for k in model.state_dict())   # saved without the DDP wrapper
