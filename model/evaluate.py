"""Evaluation: mIoU, overall accuracy and per-class IoU on all, cloudy and clear pixels.

    python -m model.evaluate --weights resources/edc_default.pt --dataset ombria --data ../shared/data/ombria \
        --split test [--coverage 0.5] [--json out.json]

``--coverage`` adds synthetic clouds over that fraction of every patch; without it the real clouds count (the cloud
mask of the dataset, or for sets without one, bright grey pixels: ``clouds.bright_cloud_mask``).
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


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m model.evaluate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", required=True)
    parser.add_argument("--dataset", default="auto")
    parser.add_argument("--data", required=True)
    parser.add_argument("--split", default="test")
    parser.add_argument("--coverage", type=float, default=None, help="synthetic cloud fraction 0..1 on every patch")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--json", help="write the full result here")
    args = parser.parse_args(argv)
    from .errors import EDCError
    try:
        result = evaluate_weights(args.weights, args.dataset, args.data, args.split, args.coverage, args.device,
                                  args.batch_size)
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
