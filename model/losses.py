"""Training losses: segmentation, cloud removal weighted towards cloudy pixels, and feature distillation."""

import torch
import torch.nn.functional as F

from .vocabulary import IGNORE_LABEL as IGNORE


def segmentation_loss(logits, label, ignore_index=IGNORE):
    return F.cross_entropy(logits.float(), label, ignore_index=ignore_index)


def cloud_removal_loss(pred, target, cloud_mask, cloudy_weight=4.0, known=None):
    """L1 between predicted and true cloud-free optical; cloudy pixels weigh ``cloudy_weight`` times more; pixels
    where ``known`` (B, H, W) is 0 (real clouds: the target is the cloudy image) not at all."""
    weight = 1.0 + (cloudy_weight - 1.0) * cloud_mask.float()
    if known is not None:
        weight = weight * known.float()
    error = (pred.float() - target.float()).abs().mean(dim=1)
    return (weight * error).sum() / weight.sum().clamp_min(1e-6)


def _as_list(features):
    return list(features) if isinstance(features, (list, tuple)) else [features]


def distillation_loss(student, teacher, cloud_mask, known=None, cloudy_weight=0.0):
    """Match the student's features to the (frozen) teacher's on cloud-free pixels (and on cloudy ones with
    ``cloudy_weight``; never where ``known`` is 0: real clouds the teacher saw too).

    Features are compared as per-pixel unit vectors (MSE of L2-normalised channels), at every scale given; the
    pixel weight at each scale is the mean weight of the pixels it covers.
    """
    losses = []
    cloud = cloud_mask.float()[:, None]
    clear = 1.0 - cloud + cloudy_weight * cloud
    if known is not None:
        clear = clear * known.float()[:, None]
    for s, t in zip(_as_list(student), _as_list(teacher)):
        weight = F.adaptive_avg_pool2d(clear, s.shape[-2:]) if s.shape[-2:] != clear.shape[-2:] else clear
        diff = (F.normalize(s.float(), dim=1) - F.normalize(t.detach().float(), dim=1)).pow(2).sum(dim=1,
                                                                                                  keepdim=True)
        losses.append((weight * diff).sum() / weight.sum().clamp_min(1e-6))
    return torch.stack(losses).mean()


def reliability_loss(stages, cloud_mask, target=None, known=None):
    """Binary cross-entropy pushing each DCHF reliability map r towards ``target`` (B, H, W; default 1 - cloud mask:
    0 under clouds, 1 on clear pixels), leaving out the pixels where ``known`` is 0.

    Our addition to the paper's recipe (which leaves r unsupervised).  Each map covers the network's padded frame at
    a power-of-two stride; target and weight are replicate-padded to that frame and average-pooled to the map's
    grid (the target over the known pixels only).
    """
    target = (1.0 - cloud_mask.float() if target is None else target.float())[:, None]
    known = torch.ones_like(target) if known is None else known.float()[:, None]
    h, w = target.shape[-2:]
    losses = []
    for r in _as_list(stages):
        stride = 1
        while r.shape[-2] * stride < h or r.shape[-1] * stride < w:
            stride *= 2
        pad = (0, r.shape[-1] * stride - w, 0, r.shape[-2] * stride - h)
        t, k = F.pad(target * known, pad, mode="replicate"), F.pad(known, pad, mode="replicate")
        if stride > 1:
            t, k = F.avg_pool2d(t, stride), F.avg_pool2d(k, stride)
        t = (t / k.clamp_min(1e-6)).clamp(0.0, 1.0)
        bce = F.binary_cross_entropy(r.float().clamp(1e-4, 1 - 1e-4), t, reduction="none")
        losses.append((bce * k).sum() / k.sum().clamp_min(1e-6))
    return torch.stack(losses).mean()


class EDCLoss:
    """Weighted sum of the terms; a weight of 0 switches a term off (ablations).  ``reliability`` needs the
    network's ``reliability_stages`` (EDC with ``return_features=True``); it is skipped for models without them."""

    def __init__(self, ce=1.0, cloud=1.0, distill=0.5, cloudy_weight=4.0, ignore_index=IGNORE, reliability=0.0,
                 distill_cloudy=0.0):
        self.w_ce, self.w_cloud, self.w_distill, self.w_reliability = ce, cloud, distill, reliability
        self.cloudy_weight, self.ignore_index, self.distill_cloudy = cloudy_weight, ignore_index, distill_cloudy

    def __call__(self, outputs, batch, teacher_features=None):
        parts = {}
        if self.w_ce:
            parts["ce"] = segmentation_loss(outputs["logits"], batch["label"], self.ignore_index)
        if self.w_cloud and outputs.get("cloudfree") is not None and "cloudfree" in batch:
            parts["cloud"] = cloud_removal_loss(outputs["cloudfree"], batch["cloudfree"], batch["cloud_mask"],
                                                self.cloudy_weight, batch.get("known"))
        if self.w_distill and teacher_features is not None:
            parts["distill"] = distillation_loss(outputs["features"], teacher_features, batch["cloud_mask"],
                                                 batch.get("known"), self.distill_cloudy)
        if self.w_reliability and outputs.get("reliability_stages") is not None:
            parts["reliability"] = reliability_loss(outputs["reliability_stages"], batch["cloud_mask"],
                                                    batch.get("reliability_target"), batch.get("known"))
        weights = {"ce": self.w_ce, "cloud": self.w_cloud, "distill": self.w_distill,
                   "reliability": self.w_reliability}
        if not parts:
            raise ValueError("all loss terms are switched off; enable at least one of ce, cloud, distill, "
                             "reliability")
        total = sum(weights[k] * v for k, v in parts.items())
        return total, {k: float(v.detach()) for k, v in parts.items()}
