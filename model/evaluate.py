"""Evaluation: mIoU, overall accuracy and per-class IoU on all, cloudy and clear pixels.

    python -m model.evaluate --weights resources/edc_default.pt --dataset ombria --data ../shared/data/ombria \
        --split test [--coverage 0.5] [--json out.json]

``--coverage`` adds synthetic clouds over that fraction of every patch; without it the real clouds count (the cloud
mask of the dataset, or for sets without one, bright grey pixels: ``clouds.bright_cloud_mask``).  ``--holdout-seed S
--split train`` scores only the patches a training run with ``--seed S`` held out for validation (to compare runs
without touching the test split).
"""

import argparse
import json
import sys

import numpy as np

from .datasets.base import IGNORE

SUBSETS = ("all", "cloudy", "clear")


def confusion(pred, label, num_classes, ignore_index=IGNORE):
    """Confusion matrix (rows = truth, columns = prediction) of integer arrays or tensors."""
    pred, label = np.asarray(pred).ravel(), np.asarray(label).ravel()
    keep = label != ignore_index
    return np.bincount(label[keep] * num_classes + pred[keep], minlength=num_classes ** 2) \
        .reshape(num_classes, num_classes).astype(np.int64)


def scores(conf, class_names=None):
    """mIoU (over classes present in truth or prediction), OA and per-class IoU from a confusion matrix."""
    conf = np.asarray(conf, np.float64)
    tp = np.diag(conf)
    union = conf.sum(0) + conf.sum(1) - tp
    iou = np.where(union > 0, tp / np.maximum(union, 1), np.nan)
    names = class_names or [str(i) for i in range(len(tp))]
    total = conf.sum()
    return {"miou": float(np.nanmean(iou)) if np.isfinite(iou).any() else float("nan"),
            "oa": float(tp.sum() / total) if total else float("nan"),
            "iou": {n: (None if np.isnan(v) else float(v)) for n, v in zip(names, iou)},
            "pixels": int(total)}


def predict_batch(model, batch, device):
    import torch
    with torch.no_grad():
        out = model(batch["optical"].to(device), batch["sar"].to(device))
    return out["logits"].argmax(1).cpu().numpy()


def evaluate_model(model, data, num_classes, class_names=None, device="cpu", batch_size=4, progress=None):
    """Evaluate on a ``TrainingSet``; return {"all"|"cloudy"|"clear": scores, "confusion": {...}}."""
    import torch
    loader = torch.utils.data.DataLoader(data, batch_size=batch_size, shuffle=False)
    confs = {k: np.zeros((num_classes, num_classes), np.int64) for k in SUBSETS}
    was_training = model.training
    model.eval()
    try:
        for step, batch in enumerate(loader):
            pred = predict_batch(model, batch, device)
            label, cloud = batch["label"].numpy(), batch["cloud_mask"].numpy() > 0.5
            confs["all"] += confusion(pred, label, num_classes)
            confs["cloudy"] += confusion(pred[cloud], label[cloud], num_classes)
            confs["clear"] += confusion(pred[~cloud], label[~cloud], num_classes)
            if progress:
                progress(step + 1, len(loader))
    finally:
        model.train(was_training)
    result = {k: scores(confs[k], class_names) for k in SUBSETS}
    result["confusion"] = {k: v.tolist() for k, v in confs.items()}
    return result


def plot_confusion(conf, class_names, path, title="Confusion matrix"):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    conf = np.asarray(conf, np.float64)
    norm = conf / np.maximum(conf.sum(1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(1.2 + 0.7 * len(class_names), 1 + 0.6 * len(class_names)))
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(class_names)), class_names, rotation=45, ha="right")
    ax.set_yticks(range(len(class_names)), class_names)
    for i in range(len(class_names)):
        for j in range(len(class_names)):
            ax.text(j, i, f"{norm[i, j]:.2f}", ha="center", va="center", fontsize=8,
                    color="white" if norm[i, j] > 0.5 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_class_iou(result, path, title="Per-class IoU"):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    names = list(result["all"]["iou"])
    fig, ax = plt.subplots(figsize=(2 + 0.9 * len(names), 3.2))
    width = 0.27
    for k, subset in enumerate(SUBSETS):
        values = [result[subset]["iou"][n] or 0.0 for n in names]
        ax.bar(np.arange(len(names)) + (k - 1) * width, values, width, label=f"{subset} pixels")
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
    ax.set_ylim(0, 1)
    ax.set_ylabel("IoU")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def evaluate_weights(weights, dataset, data, split="test", coverage=None, device="cpu", batch_size=4, seed=1234,
                     indices=None):
    """Load a weights file and evaluate it on a dataset split (optionally under synthetic clouds)."""
    import torch
    from .datasets import open_dataset
    from .datasets.training import TrainingSet
    from .weights import load_weights
    model, meta = load_weights(weights, device="cpu")
    model.to(device)
    reader = open_dataset(dataset, data, split)
    names = [c["name"] for c in meta["classes"]]
    if len(names) != reader.num_classes:
        from .errors import EDCDatasetError
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
    cloudy = cloudy_patches(reader, patches=patches)
    clear = [i for i in patches if i not in set(cloudy)]
    settings = [("whole split", None, patches), ("real clouds", None, cloudy)] + \
        [(f"synthetic {c:.0%}", c, clear) for c in coverages]
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


def _focus(scores_, focus_class):
    if focus_class is None:
        return scores_["miou"]
    value = scores_["iou"].get(focus_class)
    return float("nan") if value is None else value


def benchmark_table(result, focus_class=None):
    """Markdown table: one row per model, one column per setting (IoU of ``focus_class`` or mIoU)."""
    models = result["models"]
    settings = list(next(iter(models.values())))
    what = f"{focus_class} IoU" if focus_class else "mIoU"
    lines = [f"| model ({what}) | " + " | ".join(settings) + " |", "|---" * (len(settings) + 1) + "|"]
    for name, rows in models.items():
        lines.append(f"| {name} | " + " | ".join(f"{_focus(rows[s]['all'], focus_class):.3f}" for s in settings)
                     + " |")
    return "\n".join(lines) + "\n"


def seed_summary(results, focus_class=None):
    """Markdown table over several benchmark results: runs named ``<model>_s<N>`` (or ``<model>``, seed 0) are
    grouped by model; each cell is the mean and, with two or more seeds, the sample standard deviation and the
    range.  Returns (table, {model: {setting: [value per seed]}})."""
    import re
    values, seeds = {}, {}
    for result in results:
        for name, rows in result["models"].items():
            match = re.fullmatch(r"(.+?)_s(\d+)", name)
            model, seed = (match.group(1), int(match.group(2))) if match else (name, 0)
            if seed in seeds.setdefault(model, set()):
                raise ValueError(f"run '{name}' appears twice (seed {seed} of '{model}')")
            seeds[model].add(seed)
            for setting, r in rows.items():
                values.setdefault(model, {}).setdefault(setting, []).append(_focus(r["all"], focus_class))
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


def plot_seed_summary(values, path, focus_class=None):
    """IoU against synthetic cloud cover: per model the mean over seeds, a bar from its lowest to its highest seed."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 3.8))
    for k, (model, rows) in enumerate(values.items()):
        synth = sorted((float(s.split()[1].rstrip("%")), np.asarray(v)) for s, v in rows.items()
                       if s.startswith("synthetic"))
        x = np.array([c for c, _ in synth]) + (k - (len(values) - 1) / 2) * 0.8   # small offsets keep bars apart
        mean = np.array([v.mean() for _, v in synth])
        low, high = mean - np.array([v.min() for _, v in synth]), np.array([v.max() for _, v in synth]) - mean
        n = sorted({len(v) for _, v in synth})
        label = f"{model} ({'/'.join(map(str, n))} seed{'s' if max(n) > 1 else ''})"
        ax.errorbar(x, mean, yerr=[low, high], fmt="o-", capsize=3, label=label)
    ax.set_xlabel("synthetic cloud cover of each clear test patch (%)")
    ax.set_ylabel((f"{focus_class} IoU" if focus_class else "mIoU") + ": mean, seed range")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_iou_vs_cloud(result, path, focus_class=None):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for name, rows in result["models"].items():
        synth = [(float(s.split()[1].rstrip("%")), rows[s]["all"]) for s in rows if s.startswith("synthetic")]
        ax.plot([c for c, _ in synth], [_focus(r, focus_class) for _, r in synth], "o-", label=name)
    ax.set_xlabel("synthetic cloud cover of each clear test patch (%)")
    ax.set_ylabel(f"{focus_class} IoU" if focus_class else "mIoU")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None):
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
    args = parser.parse_args(argv)
    if args.seed_summary:
        try:
            results = [json.loads(open(path).read()) for path in args.seed_summary]
            table, values = seed_summary(results, args.focus_class)
            print(table)
            if args.plot:
                plot_seed_summary(values, args.plot, args.focus_class)
            if args.json:
                with open(args.json, "w") as fh:
                    json.dump({"focus": args.focus_class or "miou", "sources": args.seed_summary,
                               "values_per_seed": values}, fh, indent=1)
        except (OSError, ValueError, KeyError, StopIteration) as exc:
            print(f"error: cannot summarise {' '.join(args.seed_summary)}: {exc}; give benchmark.json files "
                  "written by --benchmark.", file=sys.stderr)
            return 2
        return 0
    if not args.weights or not args.data:
        parser.error("--weights and --data are required (unless --seed-summary)")
    from .errors import EDCError
    try:
        indices = None
        if args.holdout_seed is not None:
            from .datasets import open_dataset
            from .train import holdout_split
            n = len(open_dataset(args.dataset, args.data, args.split))
            if not 0 < args.val_fraction < 1 or n < 10:
                raise EDCError(f"--holdout-seed needs --val-fraction between 0 and 1 and a split of at least 10 "
                               f"patches (training holds none out otherwise); '{args.split}' has {n}.")
            indices = holdout_split(range(n), args.holdout_seed, args.val_fraction)[1]
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
    for subset in SUBSETS:
        r = result[subset]
        ious = ", ".join(f"{n} {v:.3f}" if v is not None else f"{n} -" for n, v in r["iou"].items())
        print(f"{subset:6s} pixels={r['pixels']:>10d}  mIoU={r['miou']:.4f}  OA={r['oa']:.4f}  IoU: {ious}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
