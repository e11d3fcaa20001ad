"""The samples a run trains and validates on, and the normalisation it records."""

import pytest
from helpers.datasets import generic_folder

from model.errors import EDCError
from model.training import TrainOptions
from model.training.data import holdout_split, normalization_spec, open_training_data


def test_holdout_is_what_training_validates_on(tmp_path):
    data = generic_folder(tmp_path / "g", n=20)
    _, train_idx, val_reader, val_idx = open_training_data(TrainOptions(data=str(data), dataset="generic", seed=11,
                                                                        val_fraction=0.25))
    assert holdout_split(range(20), 11, 0.25) == (train_idx, val_idx)
    assert val_reader is not None and len(val_idx) == 5 and not set(val_idx) & set(train_idx)
    assert holdout_split(range(20), 12, 0.25)[1] != val_idx      # another seed, another hold-out


def test_splits_are_concatenated_and_small_sets_keep_every_sample(tmp_path):
    generic_folder(tmp_path / "g" / "a", n=3)
    generic_folder(tmp_path / "g" / "b", n=4, seed=1)
    (tmp_path / "g" / "classes.json").write_text((tmp_path / "g" / "a" / "classes.json").read_text())
    opts = TrainOptions(data=str(tmp_path / "g"), dataset="generic", train_split="a, b")
    train, indices, val_reader, val_idx = open_training_data(opts)
    assert len(train) == 7 and indices == list(range(7))
    assert val_reader is None and val_idx is None            # under 10 samples: no hold-out
    assert [train[i]["name"] for i in (0, 3)] == ["g_s0", "g_s0"] and train.num_classes == 2


def test_normalization_spec():
    spec = normalization_spec(TrainOptions(data=""))
    assert spec["optical"] == spec["sar"] == {"method": "percentile", "low": 2.0, "high": 98.0}
    with pytest.raises(EDCError, match="Unknown normalisation 'zscore'"):
        normalization_spec(TrainOptions(data="", normalization="zscore"))
