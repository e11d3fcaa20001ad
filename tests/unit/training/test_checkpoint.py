"""``--resume`` in-process: only the options that do not change the result may differ; a damaged checkpoint is
refused with its path; a run resumed after its last epoch exports the same weights again.  (Kills from outside the
process: tests/integration/cli.)"""

import csv
import re

import pytest
import torch
from helpers.datasets import generic_folder

from model.errors import EDCError
from model.training import TrainOptions, train

pytestmark = pytest.mark.slow


def _opts(data, out, **kw):
    base = dict(data=str(data), out=str(out), preset="tiny", batch_size=2, crop=32, threads=1, progress_bar=False,
                val_fraction=0, seed=5, epochs=1, teacher_epochs=0, w_distill=0.0)
    return TrainOptions(**dict(base, **kw))


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """(data folder, work folder) of a finished one-epoch run."""
    root = tmp_path_factory.mktemp("resume")
    data = generic_folder(root / "g")
    train(_opts(data, root / "run"))
    return data, root / "run"


def test_other_options_are_refused(finished):
    data, out = finished
    with pytest.raises(EDCError, match="options lr differ"):
        train(_opts(data, out, lr=0.1, resume=True))


def test_runtime_options_may_change_and_a_finished_run_exports_again(finished):
    data, out = finished
    before = torch.load(out / "model.pt", weights_only=True)["state_dict"]
    summary = train(_opts(data, out, resume=True, threads=None, time_limit=5.0, progress_bar=True))
    after = torch.load(summary["weights"], weights_only=True)["state_dict"]
    assert all(torch.equal(before[k], after[k]) for k in before)
    with open(out / "log.csv") as fh:
        assert len(list(csv.DictReader(fh))) == 1


def test_damaged_checkpoint_is_named(finished, tmp_path):
    data, out = finished
    (tmp_path / "checkpoint.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(EDCError, match=r"--resume: checkpoint '.*checkpoint.pt' is unreadable"):
        train(_opts(data, tmp_path, resume=True))


def test_the_epoch_line_shows_a_small_learning_rate(tmp_path):
    """A small learning rate (4e-05, 8e-07 at the end of the schedule) is logged as such, not as lr=0.0000."""
    data = generic_folder(tmp_path / "g")
    lines = []
    train(_opts(data, tmp_path / "run", lr=4e-5), log=lines.append)
    epoch = [line for line in lines if line.startswith("phase=student")]
    assert epoch and re.fullmatch(r"\d(\.\d+)?e-0\d", epoch[0].split("lr=")[1].split()[0]), epoch
