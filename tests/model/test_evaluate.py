"""Metrics by hand, and evaluation split into cloudy and clear pixels."""

import numpy as np
import pytest
import torch

from model.evaluate import benchmark_table, confusion, evaluate_model, scores


def test_confusion_and_scores_by_hand():
    label = np.array([0, 0, 1, 1, 2, 255])
    pred = np.array([0, 1, 1, 1, 0, 2])
    conf = confusion(pred, label, 3)
    assert conf.tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 0]]
    s = scores(conf, ["a", "b", "c"])
    # IoU a = 1 / (2 + 2 - 1) = 1/3, b = 2 / (3 + 2 - 2) = 2/3, c = 0 / (1 + 0 - 0) = 0
    assert s["iou"] == pytest.approx({"a": 1 / 3, "b": 2 / 3, "c": 0.0})
    assert s["miou"] == pytest.approx(1 / 3)
    assert s["oa"] == pytest.approx(3 / 5) and s["pixels"] == 5


def test_absent_class_is_left_out_of_the_mean():
    s = scores(confusion(np.array([0, 0]), np.array([0, 0]), 2))
    assert s["iou"]["1"] is None and s["miou"] == 1.0


class _Threshold(torch.nn.Module):
    """Predicts class 1 where the first optical band is > 0.5 (a fixed rule, to check the bookkeeping)."""

    def forward(self, optical, sar):
        x = optical[:, :1]
        return {"logits": torch.cat([0.5 - x, x - 0.5], 1)}


def test_cloudy_and_clear_pixels_are_scored_apart():
    optical = torch.zeros(2, 1, 4, 4)
    optical[:, 0, :, :2] = 1.0
    label = torch.zeros(2, 4, 4, dtype=torch.long)
    label[:, :, :2] = 1
    label[:, :, 3] = 1                      # wrong predictions only in column 3
    cloud = torch.zeros(2, 4, 4)
    cloud[:, :, 3] = 1                      # ... which is the cloudy column
    data = [{"optical": optical[i], "sar": optical[i], "label": label[i], "cloud_mask": cloud[i]} for i in range(2)]
    result = evaluate_model(_Threshold(), data, 2, ["land", "water"])
    assert result["clear"]["miou"] == 1.0 and result["clear"]["pixels"] == 24
    assert result["cloudy"]["oa"] == 0.0 and result["cloudy"]["pixels"] == 8
    assert result["all"]["oa"] == pytest.approx(24 / 32)
    assert result["all"]["iou"]["water"] == pytest.approx(16 / 24)


def test_benchmark_table():
    row = {"all": {"miou": 0.5, "iou": {"water": 0.7}}}
    table = benchmark_table({"models": {"edc": {"whole split": row, "synthetic 50%": row}}}, "water")
    assert "| model (water IoU) | whole split | synthetic 50% |" in table and "| edc | 0.700 | 0.700 |" in table


def _generic_set(root, writer, n=20):
    """A generic-layout dataset of ``n`` 32 x 32 samples (flat optical and SAR, left half background)."""
    import json
    for folder in ("optical", "sar", "label"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    (root / "classes.json").write_text(json.dumps([{"name": "background", "color": "#d9d9d9"},
                                                   {"name": "flood water", "color": "#1f78b4"}]))
    for k in range(n):
        writer(root / "optical" / f"p{k:02d}.tif", np.full((3, 32, 32), 100 + k, np.uint8))
        writer(root / "sar" / f"p{k:02d}.tif", np.full((1, 32, 32), float(k), np.float32))
        writer(root / "label" / f"p{k:02d}.tif", (np.arange(32)[None, :] > 15).repeat(32, 0).astype(np.uint8))
    return root


def test_holdout_is_what_training_validates_on(raster_writer, tmp_path):
    from model.train import TrainOptions, open_training_data
    data = _generic_set(tmp_path / "g", raster_writer)
    _, train_idx, _, val_idx = open_training_data(TrainOptions(data=str(data), dataset="generic", seed=11,
                                                               val_fraction=0.25))
    from model.train import holdout_split
    assert holdout_split(range(20), 11, 0.25) == (train_idx, val_idx)
    assert len(val_idx) == 5 and not set(val_idx) & set(train_idx)
    assert holdout_split(range(20), 12, 0.25)[1] != val_idx      # another seed, another hold-out


def test_holdout_benchmark_scores_only_the_held_out_patches(raster_writer, tiny_weights, tmp_path):
    import json

    from model.evaluate import main
    from model.train import holdout_split
    data = _generic_set(tmp_path / "g", raster_writer)
    assert main(["--weights", str(tiny_weights), "--dataset", "generic", "--data", str(data), "--benchmark",
                 str(tmp_path / "b"), "--holdout-seed", "3", "--val-fraction", "0.25"]) == 0
    result = json.loads((tmp_path / "b" / "benchmark.json").read_text())
    held = holdout_split(range(20), 3, 0.25)[1]
    assert result["patches"] == len(held) == 5
    scored = result["models"]["tiny_edc"]["whole split"]["all"]["pixels"]
    assert scored == 5 * 32 * 32
    assert main(["--weights", str(tiny_weights), "--dataset", "generic", "--data", str(data),
                 "--holdout-seed", "3", "--val-fraction", "1.5"]) == 2


def _bench(models):
    return {"models": {name: {setting: {"all": {"miou": v, "iou": {"water": v}}} for setting, v in rows.items()}
                       for name, rows in models.items()}}


def test_seed_summary_groups_runs_by_model(tmp_path, capsys):
    import json

    from model.evaluate import main, seed_summary
    first = _bench({"edc": {"whole split": 0.6, "synthetic 75%": 0.5}, "dense": {"whole split": 0.7,
                                                                                 "synthetic 75%": 0.4}})
    second = _bench({"edc_s1": {"whole split": 0.7, "synthetic 75%": 0.6}})
    table, values = seed_summary([first, second], "water")
    assert values["edc"]["whole split"] == [0.6, 0.7] and values["dense"]["synthetic 75%"] == [0.4]
    assert "| edc | 0,1 | 0.650 ± 0.071 (0.600-0.700) | 0.550 ± 0.071 (0.500-0.600) |" in table
    assert "| dense | 0 | 0.700 | 0.400 |" in table
    with pytest.raises(ValueError, match="appears twice"):
        seed_summary([first, first])
    paths = []
    for i, result in enumerate((first, second)):
        paths.append(tmp_path / f"b{i}.json")
        paths[-1].write_text(json.dumps(result))
    assert main(["--seed-summary", *map(str, paths), "--focus-class", "water", "--plot",
                 str(tmp_path / "p.png"), "--json", str(tmp_path / "s.json")]) == 0
    assert json.loads((tmp_path / "s.json").read_text())["values_per_seed"]["edc"]["synthetic 75%"] == [0.5, 0.6]
    assert "0.650 ± 0.071" in capsys.readouterr().out
    assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["--seed-summary", str(tmp_path / "missing.json")]) == 2
    assert "cannot summarise" in capsys.readouterr().err
