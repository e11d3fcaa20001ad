"""Turn reader samples into normalised training / evaluation tensors (imports torch).

Per sample: synthetic clouds are added to clear images (real cloudy/clear pairs are used as they are), the robust
per-image statistics are computed on the whole (cloudy) image exactly as at inference, then a random crop and
flips/rotations are taken.  Pixels where the optical or the SAR input has no data (NaN from the reader: nodata, no
coverage) are treated as inference treats them: left out of the statistics, both inputs 0 after normalisation, and
their label set to the ignore value so that the loss and the metrics skip them.  Randomness comes from (seed, epoch,
index) alone, so a resumed run sees the same data.
``teacher_view`` is what the distillation teacher sees of a sample or a batch: the cloud-free image, no clouds.
"""

import numpy as np
import torch

from .. import normalization
from ..clouds import add_clouds, bright_cloud_mask
from ..vocabulary import IGNORE_LABEL


def _valid(array):
    return np.isfinite(array).all(axis=0)


class TrainingSet(torch.utils.data.Dataset):
    """``reader`` samples -> dict of tensors: optical, sar, label, cloudfree, teacher_optical, cloud_mask,
    reliability_target and known.

    ``cloud_probability``: chance of synthetic clouds on a clear sample; ``coverage``: fixed cloud fraction, or None
    for a random fraction in ``coverage_range``.  ``detect_clouds``: when a sample has no cloud mask, mark bright
    grey pixels as cloud (for evaluating sets with unlabelled real clouds, like OMBRIA).

    ``reliability_target`` (H, W) is what the reliability loss pushes r towards: 1 - cloud mask, or with
    ``soft_reliability`` (EDC v2) the synthetic clouds' transmission (1 - opacity, shadows included, thin edges
    too).  ``known`` (H, W) is 1 where the cloud-free target is trustworthy; with ``ignore_real_clouds`` (EDC v2) the
    real clouds of a sample without a real cloudy/clear pair (bright grey pixels of an 8-bit composite, as the
    evaluation finds them) are 0 there: their "cloud-free" target is the cloudy image, so the reliability,
    cloud-removal and distillation losses leave them out.
    """

    def __init__(self, reader, normalization_spec, indices=None, crop=None, augment=False, cloud_probability=0.0,
                 coverage=None, seed=0, detect_clouds=False, coverage_range=(0.05, 0.7), soft_reliability=False,
                 ignore_real_clouds=False):
        self.reader, self.spec = reader, normalization_spec
        self.indices = list(range(len(reader))) if indices is None else list(indices)
        self.crop, self.augment = crop, augment
        self.cloud_probability, self.coverage, self.coverage_range = cloud_probability, coverage, coverage_range
        self.seed, self.epoch, self.detect_clouds = seed, 0, detect_clouds
        self.value_max = getattr(reader, "value_max", None)
        self.soft_reliability, self.ignore_real_clouds = soft_reliability, ignore_real_clouds

    def set_epoch(self, epoch):
        self.epoch = epoch

    def __len__(self):
        return len(self.indices)

    def _norm(self, array, stream, stats=None, valid=None):
        """``array`` normalised (0 where not ``valid``, default: where finite) and the statistics used, computed
        over the ``valid`` pixels unless given."""
        spec = self.spec[stream]
        valid = _valid(array) if valid is None else valid
        if stats is None:
            stats = normalization.compute_stats(array, valid, spec)
        out = np.nan_to_num(normalization.normalize(array, stats)).astype(np.float32)
        if not valid.all():
            out[:, ~valid] = 0.0
        return out, stats

    def __getitem__(self, i):
        index = self.indices[i]
        rng = np.random.default_rng([self.seed, self.epoch, index])
        sample = self.reader[index]
        clear = sample.get("cloudfree")
        transmission, known = None, None
        if clear is not None and sample.get("cloud_mask") is not None:
            cloudy, mask = sample["optical"], sample["cloud_mask"]
        else:
            clear = sample["optical"]
            if self.ignore_real_clouds and self.value_max is not None:
                known = ~bright_cloud_mask(clear, self.value_max)
            if self.cloud_probability and rng.random() < self.cloud_probability:
                coverage = self.coverage if self.coverage is not None else rng.uniform(*self.coverage_range)
                cloudy, mask, transmission = add_clouds(clear, rng, coverage, value_max=self.value_max,
                                                        transmission=True)
            else:
                cloudy = clear
                mask = sample.get("cloud_mask")
                if mask is None:
                    mask = bright_cloud_mask(clear, self.value_max or 255.0) if self.detect_clouds else \
                        np.zeros(clear.shape[1:], bool)
        # as at inference: the pixels where both inputs have data give the statistics; the others are 0 and ignored
        valid = _valid(cloudy) & _valid(sample["sar"])
        label = sample["label"][None].astype(np.int64)
        if not valid.all():
            label[:, ~valid] = IGNORE_LABEL
        optical, stats = self._norm(cloudy, "optical", valid=valid)
        target, _ = self._norm(clear, "optical", stats)
        teacher = optical if clear is cloudy else self._norm(clear, "optical", valid=valid & _valid(clear))[0]
        sar, _ = self._norm(sample["sar"], "sar", valid=valid)
        reliability = 1.0 - mask.astype(np.float32)
        if self.soft_reliability and transmission is not None:
            reliability = transmission
        known = np.ones(mask.shape, np.float32) if known is None else known.astype(np.float32)
        arrays = [optical, sar, target, teacher, label, mask[None].astype(np.float32), reliability[None], known[None]]
        arrays = self._crop_and_flip(arrays, rng)
        keys = ("optical", "sar", "cloudfree", "teacher_optical", "label", "cloud_mask", "reliability_target", "known")
        out = {k: torch.from_numpy(np.ascontiguousarray(a)) for k, a in zip(keys, arrays)}
        for key in ("label", "cloud_mask", "reliability_target", "known"):
            out[key] = out[key][0]
        return out

    def _crop_and_flip(self, arrays, rng):
        h, w = arrays[0].shape[1:]
        if self.crop and (h > self.crop or w > self.crop):
            y, x = rng.integers(0, max(h - self.crop, 0) + 1), rng.integers(0, max(w - self.crop, 0) + 1)
            arrays = [a[:, y:y + self.crop, x:x + self.crop] for a in arrays]
        if self.augment:
            k = int(rng.integers(4))
            flip = rng.random() < 0.5
            arrays = [np.rot90(a, k, axes=(1, 2)) for a in arrays]
            if flip:
                arrays = [a[:, :, ::-1] for a in arrays]
        return arrays


def teacher_view(item):
    """A sample or batch as the teacher sees it: the cloud-free optical image as input, no cloud pixels."""
    return dict(item, optical=item["teacher_optical"], cloud_mask=torch.zeros_like(item["cloud_mask"]))


class TeacherSet(torch.utils.data.Dataset):
    """``data`` (a TrainingSet) through :func:`teacher_view`, for validating the teacher."""

    def __init__(self, data):
        self.data = data

    def __len__(self):
        return len(self.data)

    def __getitem__(self, i):
        return teacher_view(self.data[i])
