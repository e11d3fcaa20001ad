"""Evaluation maths shared by training (validation every epoch) and ``model.evaluate``: confusion matrices, mIoU /
OA / per-class IoU, and a network scored on all, cloudy and clear pixels.  Imports only numpy (torch when a network
is evaluated)."""

import numpy as np

from .vocabulary import IGNORE_LABEL

SUBSETS = ("all", "cloudy", "clear")


def confusion(pred, label, num_classes, ignore_index=IGNORE_LABEL):
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


def focus(scores_, focus_class=None):
    """The IoU of ``focus_class`` in a scores dict (NaN where absent), or its mIoU when no class is named."""
    if focus_class is None:
        return scores_["miou"]
    value = scores_["iou"].get(focus_class)
    return float("nan") if value is None else value
