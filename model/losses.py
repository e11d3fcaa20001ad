"""Training losses: segmentation, cloud removal weighted towards cloudy pixels, and feature distillation."""

import torch
import torch.nn.functional as F

from .vocabulary import IGNORE_LABEL as IGNORE


def segmentation_loss(logits, label, ignore_index=IGNORE):
    return F.cross_entropy(logits.float(), label, ignore_index=ignore_index)


def cloud_removal_loss(pred, target, cloud_mask, cloudy_weight=4.0):
    """L1 between predicted and true cloud-free optical; cloudy pixels weigh ``cloudy_weight`` times more."""
    weight = 1.0 + (cloudy_weight - 1.0) * cloud_mask.float()
    error = (pred.float() - target.float()).abs().mean(dim=1)
    return (weight * error).sum() / weight.sum().clamp_min(1e-6)


def _as_list(features):
    return list(features) if isinstance(features, (list, tuple)) else [features]


def distillation_loss(student, teacher, cloud_mask):
    """Match the student's features to the (frozen) teacher's on cloud-free pixels.

    Features are compared as per-pixel unit vectors (MSE of L2-normalised channels), at every scale given; the
    clear-pixel weight at each scale is the fraction of clear pixels it covers.
    """
    losses = []
    clear = 1.0 - cloud_mask.float()[:, None]
    for s, t in zip(_as_list(student), _as_list(teacher)):
        weight = F.adaptive_avg_pool2d(clear, s.shape[-2:]) if s.shape[-2:] != clear.shape[-2:] else clear
        diff = (F.normalize(s.float(), dim=1) - F.normalize(t.detach().float(), dim=1)).pow(2).sum(dim=1,
                                                                                                  keepdim=True)
        losses.append((weight * diff).sum() / weight.sum().clamp_min(1e-6))
    return torch.stack(losses).mean()


def reliability_loss(stages, cloud_mask):
    """Binary cross-entropy pushing each DCHF reliability map r towards 0 under clouds and 1 on clear pixels.

    Our addition to the paper's recipe (which leaves r unsupervised).  Each map covers the network's padded frame at
    a power-of-two stride; the mask is replicate-padded to that frame and average-pooled to the map's grid.
    """
    mask = cloud_mask.float()[:, None]
    h, w = mask.shape[-2:]
    losses = []
    for r in _as_list(stages):
        stride = 1
        while r.shape[-2] * stride < h or r.shape[-1] * stride < w:
            stride *= 2
        padded = F.pad(mask, (0, r.shape[-1] * stride - w, 0, r.shape[-2] * stride - h), mode="replicate")
        target = 1.0 - F.avg_pool2d(padded, stride) if stride > 1 else 1.0 - padded
        losses.append(F.binary_cross_entropy(r.float().clamp(1e-4, 1 - 1e-4), target))
    return torch.stack(losses).mean()


class EDCLoss:
    """Weighted sum of the terms; a weight of 0 switches a term off (ablations).  ``reliability`` needs the
    network's ``reliability_stages`` (EDC with ``return_features=True``); it is skipped for models without them."""

    def __init__(self, ce=1.0, cloud=1.0, distill=0.5, cloudy_weight=4.0, ignore_index=IGNORE, reliability=0.0):
        self.w_ce, self.w_cloud, self.w_distill, self.w_reliability = ce, cloud, distill, reliability
        self.cloudy_weight, self.ignore_index = cloudy_weight, ignore_index

    def __call__(self, outputs, batch, teacher_features=None):
        parts = {}
        if self.w_ce:
            parts["ce"] = segmentation_loss(outputs["logits"], batch["label"], self.ignore_index)
        if self.w_cloud and outputs.get("cloudfree") is not None and "cloudfree" in batch:
            parts["cloud"] = cloud_removal_loss(outputs["cloudfree"], batch["cloudfree"], batch["cloud_mask"],
                                                self.cloudy_weight)
        if self.w_distill and teacher_features is not None:
            parts["distill"] = distillation_loss(outputs["features"], teacher_features, batch["cloud_mask"])
        if self.w_reliability and outputs.get("reliability_stages") is not None:
            parts["reliability"] = reliability_loss(outputs["reliability_stages"], batch["cloud_mask"])
        weights = {"ce": self.w_ce, "cloud": self.w_cloud, "distill": self.w_distill,
                   "reliability": self.w_reliability}
        if not parts:
            raise ValueError("all loss terms are switched off; enable at least one of ce, cloud, distill, "
                             "reliability")
        total = sum(weights[k] * v for k, v in parts.items())
        return total, {k: float(v.detach()) for k, v in parts.items()}
