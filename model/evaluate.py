"""Evaluation: mIoU, overall accuracy and per-class IoU on all, cloudy and clear pixels.

    python -m model.evaluate --weights resources/edc_default.pt --dataset ombria --data ../shared/data/ombria \
        --split test [--coverage 0.5] [--json out.json]

``--coverage`` adds synthetic clouds over that fraction of every patch; without it the real clouds count (the cloud
mask of the dataset, or for sets without one, bright grey pixels: ``clouds.bright_cloud_mask``).  ``--holdout-seed S
--split train`` scores only the patches a training run with ``--seed S`` held out for validation (to compare runs
without touching the test split).  The maths is in ``metrics``, the plots in ``plots``.
"""

import argparse
import json
import sys

import numpy as np

from .errors import EDCDatasetError, EDCError
from .metrics import SUBSETS, confusion, evaluate_model, focus, scores
from .plots import plot_iou_vs_cloud, plot_seed_summary

__all__ = ["SUBSETS", "benchmark", "benchmark_settings", "benchmark_table", "cloudy_patches", "confusion",
           "evaluate_built", "evaluate_model", "evaluate_weights", "main", "paired_difference", "scores",
           "seed_summary"]


def evaluate_weights(weights, dataset, data, split="test", coverage=None, device="cpu", batch_size=4, seed=1234,
                     indices=None):
    """Load a weights file and evaluate it on a dataset split (optionally under synthetic clouds)."""
    from .weights import open_weights
    weights_file = open_weights(weights)
    return evaluate_built(weights_file.build_model(device), weights_file.metadata, dataset, data, split, coverage,
                          device, batch_size, seed, indices)


def evaluate_built(model, meta, dataset, data, split="test", coverage=None, device="cpu", batch_size=4, seed=1234,
                   indices=None):
    """:func:`evaluate_weights` for a network already built (``meta``: its weights' metadata)."""
    import torch
    from .datasets import open_dataset
    from .training.samples import TrainingSet
    reader = open_dataset(dataset, data, split)
    names = [c["name"] for c in meta["classes"]]
    if len(names) != reader.num_classes:
        raise EDCDatasetError(f"The weights have {len(names)} classes but dataset '{data}' has "
                              f"{reader.num_classes}; evaluate on a dataset with the same classes.")
    synthetic = coverage is not None
    data_set = TrainingSet(reader, meta["normalization"], indices=indices, cloud_probability=1.0 if synthetic else 0,
                           coverage=coverage, seed=seed, detect_clouds=not synthetic)
    torch.manual_seed(seed)
    return evaluate_model(model, data_set, len(names), names, device, batch_size)


def cloudy_patches(reader, min_fraction=0.02, patches=None):
    """Indices (among ``patches``, default all) of patches with real clouds: ``bright_cloud_mask`` covers at least
    ``min_fraction`` of the patch."""
    from .clouds import bright_cloud_mask
    value_max = getattr(reader, "value_max", None) or 255.0
    return [i for i in (range(len(reader)) if patches is None else patches)
            if bright_cloud_mask(reader[i]["optical"], value_max).mean() >= min_fraction]


def benchmark(weights, dataset, data, split="test", coverages=(0.0, 0.25, 0.5, 0.75), device="cpu", out=None,
              focus_class=None, indices=None):
    """Evaluate several weights files: whole split, patches with real clouds, and synthetic clouds covering each
    fraction in ``coverages`` of every clear patch.  ``indices``: only these patches of the split (e.g. a training
    run's validation hold-out).  Writes benchmark.json, benchmark.md and iou_vs_cloud.png to ``out``; returns the
    result dict."""
    from pathlib import Path
    from .datasets import open_dataset
    reader = open_dataset(dataset, data, split)
    patches = list(range(len(reader))) if indices is None else sorted(indices)
    settings = benchmark_settings(reader, coverages, patches)
    cloudy = settings[1][2]
    clear = [i for i in patches if i not in set(cloudy)]
    result = {"split": split, "patches": len(patches), "cloudy_patches": [reader[i]["name"] for i in cloudy],
              "clear_patches": len(clear), "models": {}}
    for path in weights:
        name = Path(path).parent.name if Path(path).stem == "model" else Path(path).stem
        result["models"][name] = {}
        for label, coverage, indices in settings:
            r = evaluate_weights(path, dataset, data, split, coverage, device, indices=indices)
            result["models"][name][label] = {k: r[k] for k in SUBSETS}
            print(f"{name:24s} {label:16s} mIoU={r['all']['miou']:.4f} IoU={r['all']['iou']}", file=sys.stderr)
    if out:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        with open(out / "benchmark.json", "w") as fh:
            json.dump(result, fh, indent=1)
        (out / "benchmark.md").write_text(benchmark_table(result, focus_class))
        plot_iou_vs_cloud(result, out / "iou_vs_cloud.png", focus_class)
    return result


def benchmark_settings(reader, coverages, patches):
    """(label, synthetic coverage or None, patch indices) of every setting of a benchmark over ``patches``: the whole
    split, the patches with real clouds, the clear ones under synthetic clouds covering each of ``coverages``."""
    cloudy = cloudy_patches(reader, patches=patches)
    clear = [i for i in patches if i not in set(cloudy)]
    return [("whole split", None, patches), ("real clouds", None, cloudy)] + \
        [(f"synthetic {c:.0%}", c, clear) for c in coverages]


def benchmark_table(result, focus_class=None):
    """Markdown table: one row per model, one column per setting (IoU of ``focus_class`` or mIoU)."""
    models = result["models"]
    settings = list(next(iter(models.values())))
    what = f"{focus_class} IoU" if focus_class else "mIoU"
    lines = [f"| model ({what}) | " + " | ".join(settings) + " |", "|---" * (len(settings) + 1) + "|"]
    for name, rows in models.items():
        lines.append(f"| {name} | " + " | ".join(f"{focus(rows[s]['all'], focus_class):.3f}" for s in settings)
                     + " |")
    return "\n".join(lines) + "\n"


# two-sided 95 % quantile of Student's t, by degrees of freedom (a normal 1.96 beyond the table)
T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
        2.120, 2.110, 2.101, 2.093, 2.086)


def _run_seed(name):
    """(model, seed) of a run named ``<model>_s<N>`` (or ``<model>``: seed 0)."""
    import re
    match = re.fullmatch(r"(.+?)_s(\d+)", name)
    return (match.group(1), int(match.group(2))) if match else (name, 0)


def paired_difference(results, model_a, model_b, focus_class=None):
    """Per-seed difference ``model_a - model_b`` in every setting, over the seeds both models have: returns
    (markdown table, {setting: {"seeds", "differences", "mean", "ci95"}}); the interval is mean ± t(0.975, n-1) x
    standard error (none with one seed)."""
    per_seed = {}
    for result in results:
        for name, rows in result["models"].items():
            model, seed = _run_seed(name)
            for setting, r in rows.items():
                per_seed.setdefault(model, {}).setdefault(setting, {})[seed] = focus(r["all"], focus_class)
    for model in (model_a, model_b):
        if model not in per_seed:
            raise ValueError(f"no runs of model '{model}' (runs are named <model>_s<N>)")
    out = {}
    for setting, a in per_seed[model_a].items():
        b = per_seed[model_b].get(setting, {})
        seeds = sorted(set(a) & set(b))
        if not seeds:
            continue
        d = np.array([a[s] - b[s] for s in seeds], np.float64)
        half = None
        if len(d) > 1:
            df = len(d) - 1
            half = (T975[df - 1] if df <= len(T975) else 1.96) * d.std(ddof=1) / np.sqrt(len(d))
        out[setting] = {"seeds": seeds, "differences": d.tolist(), "mean": float(d.mean()),
                        "ci95": None if half is None else [float(d.mean() - half), float(d.mean() + half)]}
    if not out:
        raise ValueError(f"models '{model_a}' and '{model_b}' share no seed")
    what = f"{focus_class} IoU" if focus_class else "mIoU"
    lines = [f"| {model_a} - {model_b} ({what}) | seeds | per seed | mean | 95 % CI |", "|---" * 5 + "|"]
    for setting, r in out.items():
        ci = "-" if r["ci95"] is None else f"{r['ci95'][0]:+.3f} .. {r['ci95'][1]:+.3f}"
        lines.append(f"| {setting} | {','.join(map(str, r['seeds']))} | "
                     f"{' / '.join(f'{v:+.3f}' for v in r['differences'])} | {r['mean']:+.3f} | {ci} |")
    return "\n".join(lines) + "\n", out


def seed_summary(results, focus_class=None):
    """Markdown table over several benchmark results: runs named ``<model>_s<N>`` (or ``<model>``, seed 0) are
    grouped by model; each cell is the mean and, with two or more seeds, the sample standard deviation and the
    range.  Returns (table, {model: {setting: [value per seed]}})."""
    values, seeds = {}, {}
    for result in results:
        for name, rows in result["models"].items():
            model, seed = _run_seed(name)
            if seed in seeds.setdefault(model, set()):
                raise ValueError(f"run '{name}' appears twice (seed {seed} of '{model}')")
            seeds[model].add(seed)
            for setting, r in rows.items():
                values.setdefault(model, {}).setdefault(setting, []).append(focus(r["all"], focus_class))
    settings = list(next(iter(values.values())))
    what = f"{focus_class} IoU" if focus_class else "mIoU"
    lines = [f"| model ({what}) | seeds | " + " | ".join(settings) + " |", "|---" * (len(settings) + 2) + "|"]
    for model, rows in values.items():
        cells = []
        for setting in settings:
            v = np.asarray(rows.get(setting, []), np.float64)
            cells.append("-" if not len(v) else f"{v.mean():.3f}" if len(v) == 1 else
                         f"{v.mean():.3f} ± {v.std(ddof=1):.3f} ({v.min():.3f}-{v.max():.3f})")
        lines.append(f"| {model} | {','.join(map(str, sorted(seeds[model])))} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n", values


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m model.evaluate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", nargs="+", help="one weights file (several with --benchmark)")
    parser.add_argument("--dataset", default="auto")
    parser.add_argument("--data")
    parser.add_argument("--split", default="test")
    parser.add_argument("--coverage", type=float, default=None, help="synthetic cloud fraction 0..1 on every patch")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--json", help="write the full result here")
    parser.add_argument("--benchmark", metavar="OUT_DIR",
                        help="compare the weights: whole split, real-cloud patches, synthetic 0/25/50/75%% clouds")
    parser.add_argument("--focus-class", help="class whose IoU the benchmark table shows (default: mIoU)")
    parser.add_argument("--holdout-seed", type=int, default=None, metavar="SEED",
                        help="score only the validation patches that `python -m model.train --seed SEED` (without "
                             "--val-split) holds out of --split: for choosing between training runs without "
                             "looking at the test split")
    parser.add_argument("--val-fraction", type=float, default=0.1, help="the training run's --val-fraction")
    parser.add_argument("--seed-summary", nargs="+", metavar="BENCHMARK_JSON",
                        help="instead of evaluating: mean and spread over seeds of earlier --benchmark results "
                             "(runs named <model>_s<N> are seed N of <model>)")
    parser.add_argument("--plot", metavar="PNG", help="with --seed-summary: plot IoU against cloud cover here")
    parser.add_argument("--paired", nargs=2, metavar=("MODEL_A", "MODEL_B"),
                        help="with --seed-summary: also the per-seed difference MODEL_A - MODEL_B, its mean and 95%% "
                             "confidence interval (t distribution over the shared seeds)")
    return parser


def _summarise_seeds(args):
    try:
        results = [json.loads(open(path).read()) for path in args.seed_summary]
        table, values = seed_summary(results, args.focus_class)
        print(table)
        paired = None
        if args.paired:
            paired_table, paired = paired_difference(results, *args.paired, args.focus_class)
            print(paired_table)
        if args.plot:
            plot_seed_summary(values, args.plot, args.focus_class)
        if args.json:
            summary = {"focus": args.focus_class or "miou", "sources": args.seed_summary, "values_per_seed": values}
            if paired is not None:
                summary["paired_difference"] = {"models": list(args.paired), "settings": paired}
            with open(args.json, "w") as fh:
                json.dump(summary, fh, indent=1)
    except (OSError, ValueError, KeyError, StopIteration) as exc:
        print(f"error: cannot summarise {' '.join(args.seed_summary)}: {exc}; give benchmark.json files "
              "written by --benchmark.", file=sys.stderr)
        return 2
    return 0


def _holdout_indices(args):
    """The patches of ``--split`` that a training run with ``--seed args.holdout_seed`` validated on."""
    from .datasets import open_dataset
    from .training.data import holdout_split
    n = len(open_dataset(args.dataset, args.data, args.split))
    if not 0 < args.val_fraction < 1 or n < 10:
        raise EDCError(f"--holdout-seed needs --val-fraction between 0 and 1 and a split of at least 10 "
                       f"patches (training holds none out otherwise); '{args.split}' has {n}.")
    return holdout_split(range(n), args.holdout_seed, args.val_fraction)[1]


def _print_result(result):
    for subset in SUBSETS:
        r = result[subset]
        ious = ", ".join(f"{n} {v:.3f}" if v is not None else f"{n} -" for n, v in r["iou"].items())
        print(f"{subset:6s} pixels={r['pixels']:>10d}  mIoU={r['miou']:.4f}  OA={r['oa']:.4f}  IoU: {ious}")


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.seed_summary:
        return _summarise_seeds(args)
    if not args.weights or not args.data:
        parser.error("--weights and --data are required (unless --seed-summary)")
    try:
        indices = None if args.holdout_seed is None else _holdout_indices(args)
        if args.benchmark:
            result = benchmark(args.weights, args.dataset, args.data, args.split, device=args.device,
                               out=args.benchmark, focus_class=args.focus_class, indices=indices)
            print(benchmark_table(result, args.focus_class))
            return 0
        result = evaluate_weights(args.weights[0], args.dataset, args.data, args.split, args.coverage, args.device,
                                  args.batch_size, indices=indices)
    except EDCError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    _print_result(result)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
