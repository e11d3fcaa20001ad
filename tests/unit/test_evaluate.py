"""``model.evaluate``: benchmark tables, the validation hold-out of a training run, summaries over seeds."""

import json

import numpy as np
import pytest
from helpers.datasets import generic_folder

from model.evaluate import benchmark_table, main, seed_summary
from model.training.data import holdout_split

CLASSES = ("background", "flood water")      # the classes of the tiny_weights fixture


def test_benchmark_table():
    row = {"all": {"miou": 0.5, "iou": {"water": 0.7}}}
    table = benchmark_table({"models": {"edc": {"whole split": row, "synthetic 50%": row}}}, "water")
    assert "| model (water IoU) | whole split | synthetic 50% |" in table and "| edc | 0.700 | 0.700 |" in table


@pytest.mark.slow
def test_holdout_benchmark_scores_only_the_held_out_patches(tiny_weights, tmp_path):
    data = generic_folder(tmp_path / "g", n=20, n_sar=1, classes=CLASSES)
    assert main(["--weights", str(tiny_weights), "--dataset", "generic", "--data", str(data), "--benchmark",
                 str(tmp_path / "b"), "--holdout-seed", "3", "--val-fraction", "0.25"]) == 0
    result = json.loads((tmp_path / "b" / "benchmark.json").read_text())
    held = holdout_split(range(20), 3, 0.25)[1]
    assert result["patches"] == len(held) == 5
    scored = result["models"]["tiny_edc"]["whole split"]["all"]["pixels"]
    assert scored == 5 * 32 * 32
    assert (tmp_path / "b" / "iou_vs_cloud.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["--weights", str(tiny_weights), "--dataset", "generic", "--data", str(data),
                 "--holdout-seed", "3", "--val-fraction", "1.5"]) == 2


def test_evaluate_prints_the_three_pixel_subsets(tiny_weights, tmp_path, capsys):
    data = generic_folder(tmp_path / "g", n=2, n_sar=1, classes=CLASSES)
    assert main(["--weights", str(tiny_weights), "--dataset", "generic", "--data", str(data), "--split", "x",
                 "--coverage", "0.5", "--json", str(tmp_path / "r.json")]) == 0
    out = capsys.readouterr().out
    assert all(f"{subset:6s} pixels=" in out for subset in ("all", "cloudy", "clear"))
    result = json.loads((tmp_path / "r.json").read_text())
    assert result["cloudy"]["pixels"] == pytest.approx(result["all"]["pixels"] / 2, rel=0.01)


def _bench(models):
    return {"models": {name: {setting: {"all": {"miou": v, "iou": {"water": v}}} for setting, v in rows.items()}
                       for name, rows in models.items()}}


def test_seed_summary_groups_runs_by_model(tmp_path, capsys):
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


def test_paired_difference_pairs_by_seed_with_a_t_interval(tmp_path, capsys):
    from model.evaluate import paired_difference
    runs = [_bench({"edc2_s0": {"whole split": 0.66}, "dense_s0": {"whole split": 0.64}}),
            _bench({"edc2_s1": {"whole split": 0.62}, "dense_s2": {"whole split": 0.10}}),
            _bench({"dense_s1": {"whole split": 0.61}, "edc2_s2": {"whole split": 0.70}}),
            _bench({"edc2_s3": {"whole split": 0.65}, "dense_s3": {"whole split": 0.66}})]
    table, out = paired_difference(runs, "edc2", "dense", "water")
    r = out["whole split"]
    assert r["seeds"] == [0, 1, 2, 3]
    assert r["differences"] == pytest.approx([0.02, 0.01, 0.60, -0.01])   # paired by seed, not by file order
    d = np.array(r["differences"])
    half = 3.182 * d.std(ddof=1) / 2
    assert r["mean"] == pytest.approx(d.mean()) and r["ci95"] == pytest.approx([d.mean() - half, d.mean() + half])
    assert "| whole split | 0,1,2,3 | +0.020 / +0.010 / +0.600 / -0.010 |" in table
    with pytest.raises(ValueError, match="no runs of model 'edc3'"):
        paired_difference(runs, "edc3", "dense")
    paths = []
    for i, result in enumerate(runs):
        paths.append(tmp_path / f"b{i}.json")
        paths[-1].write_text(json.dumps(result))
    assert main(["--seed-summary", *map(str, paths), "--focus-class", "water", "--paired", "edc2", "dense",
                 "--json", str(tmp_path / "s.json")]) == 0
    saved = json.loads((tmp_path / "s.json").read_text())["paired_difference"]
    assert saved["models"] == ["edc2", "dense"] and saved["settings"]["whole split"]["seeds"] == [0, 1, 2, 3]
    assert "95 % CI" in capsys.readouterr().out
