"""What a run writes to its work folder and weights file: ``log.csv`` and the plots after every epoch, and at the
end the weights (``.pt``, optionally float16, + ``.onnx``) with their metadata, and ``summary.json``."""

import copy
import csv
import json
import time
from pathlib import Path

from ..plots import plot_class_iou, plot_confusion, plot_history

CSV_FIELDS = ("phase", "epoch", "lr", "loss", "ce", "cloud", "distill", "reliability", "train_miou", "val_miou",
              "val_oa", "val_miou_cloudy", "val_miou_clear", "seconds")


def write_logs(out, history, result, class_names):
    """``log.csv`` and ``loss.png`` from the epochs so far; ``class_iou.png`` and ``confusion.png`` from the latest
    validation ``result`` (when there is one)."""
    with open(out / "log.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_FIELDS, extrasaction="ignore")
        writer.writeheader()
        for r in history:
            writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})
    plot_history(history, out / "loss.png")
    if result is not None:
        plot_class_iou(result, out / "class_iou.png", "Per-class IoU (validation)")
        plot_confusion(result["confusion"]["all"], class_names, out / "confusion.png", "Confusion matrix (validation)")


def validation_metrics(result):
    """The metadata's ``metrics``: mIoU, OA and per-class IoU of the kept epoch on all, cloudy and clear pixels."""
    if result is None:
        return {}
    return {f"validation_{k}": {"miou": result[k]["miou"], "oa": result[k]["oa"], "iou": result[k]["iou"]}
            for k in ("all", "cloudy", "clear")}


def training_record(run):
    """The metadata's ``training``: data, recipe and outcome of ``run`` (a :class:`~.loop.Trainer`)."""
    opts = run.opts
    record = {"dataset": getattr(run.reader, "kind", opts.dataset), "data": Path(opts.data).name,
              "train_split": opts.train_split, "samples": len(run.train_set),
              "validation": (opts.val_split or f"{opts.val_fraction:.0%} of training samples")
              if run.val_set is not None else "none",
              "epochs": opts.epochs, "teacher_epochs": dict(run.plan)["teacher"], "crop": opts.crop,
              "batch_size": opts.batch_size, "lr": opts.lr, "seed": opts.seed,
              "loss_weights": {"ce": opts.w_ce, "cloud": opts.w_cloud, "distill": opts.w_distill,
                               "reliability": opts.w_reliability, "cloudy_weight": opts.cloudy_weight,
                               "distill_cloudy": opts.distill_cloudy},
              "soft_reliability": opts.soft_reliability, "ignore_real_clouds": opts.ignore_real_clouds,
              "init_from_teacher": opts.init_from_teacher,
              "synthetic_cloud_probability": opts.cloud_probability,
              "synthetic_cloud_coverage": list(run.coverage_range),
              "best_epoch": run.best["epoch"] if run.best else None,
              "date": time.strftime("%Y-%m-%d")}
    if run.stopped_early:
        record["stopped_early_by_time_limit"] = run.stopped_early
    return record


def export_weights(run, model):
    """Write the weights of ``model`` (the best validated student when there was validation) with their metadata,
    the optional ONNX copy and ``summary.json``; return the summary."""
    from ..weights import make_metadata, save_weights
    from ..weights.onnx_export import export_onnx
    opts = run.opts
    final = None
    if run.best is not None:
        model.load_state_dict(run.best["state"])
        final = run.best["result"]
    model.eval().cpu()
    metrics = validation_metrics(final)
    meta = make_metadata(opts.architecture, run.config, run.classes, run.reader.optical_bands, run.reader.sar_bands,
                         normalization=run.norm, tile_size=opts.tile_size, overlap=opts.overlap, trained=True,
                         training=training_record(run), metrics=metrics, gsd_m=run.reader.gsd_m)
    path = Path(opts.weights_out or run.out / "model.pt")
    if opts.half_weights:
        model = copy.deepcopy(model).half().float()  # the rounded weights, for the .pt and the ONNX file alike
    save_weights(model.half() if opts.half_weights else model, meta, path)
    summary = {"weights": str(path), "metrics": metrics, "epochs_run": len(run.history)}
    if opts.onnx:
        summary["onnx"] = str(export_onnx(model.float(), meta, path.with_suffix(".onnx"), half=opts.half_weights))
    with open(run.out / "summary.json", "w") as fh:
        json.dump(summary, fh, indent=1)
    run.log(f"Weights written to {path}")
    return summary
