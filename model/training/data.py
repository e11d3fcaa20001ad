"""The samples a run trains and validates on: the readers of the training split(s), the validation hold-out and the
normalisation the weights will carry.  Imports only numpy (the readers import GDAL when they read)."""

import time

import numpy as np

from ..errors import EDCDatasetError, EDCError
from ..vocabulary import IGNORE_LABEL


class _Concat:
    """Several readers of the same kind as one."""

    def __init__(self, readers):
        self.readers = readers
        first = readers[0]
        for key in ("kind", "classes", "optical_bands", "sar_bands", "value_max", "gsd_m"):
            setattr(self, key, getattr(first, key, None))
        self.num_classes = len(self.classes)
        self.index = [(r, i) for r in readers for i in range(len(r))]

    def __len__(self):
        return len(self.index)

    def __getitem__(self, i):
        reader, j = self.index[i]
        return reader[j]


def open_training_data(opts):
    """(training reader, training indices, validation reader or None, validation indices or None)."""
    from ..datasets import open_dataset
    readers = [open_dataset(opts.dataset, opts.data, s.strip()) for s in opts.train_split.split(",") if s.strip()]
    if not readers:
        raise EDCDatasetError("No training split given; use e.g. --train-split train.")
    train = readers[0] if len(readers) == 1 else _Concat(readers)
    indices = list(range(len(train)))
    if opts.max_samples:
        indices = indices[:opts.max_samples]
    val_reader, val_indices = None, None
    if opts.val_split:
        val_reader = open_dataset(opts.dataset, opts.data, opts.val_split)
        val_indices = list(range(len(val_reader)))
        if opts.max_samples:
            val_indices = val_indices[:max(1, opts.max_samples // 4)]
    elif opts.val_fraction > 0 and len(indices) >= 10:
        indices, val_indices = holdout_split(indices, opts.seed, opts.val_fraction)
        val_reader = train
    return train, indices, val_reader, val_indices


def holdout_split(indices, seed, fraction=0.1):
    """(training indices, validation indices): the share ``fraction`` of ``indices`` that a run with ``--seed seed``
    and no --val-split holds out for validation.  ``model.evaluate --holdout-seed`` scores exactly these."""
    perm = np.random.default_rng([seed, 7]).permutation(list(indices))
    n_val = max(1, int(round(fraction * len(perm))))
    return sorted(perm[n_val:].tolist()), sorted(perm[:n_val].tolist())


def normalization_spec(opts):
    """The normalisation of both streams, as stored in the weights' metadata."""
    if opts.normalization != "percentile":
        raise EDCError(f"Unknown normalisation '{opts.normalization}'; use 'percentile'.")
    spec = {"method": "percentile", "low": 2.0, "high": 98.0}
    return {"optical": dict(spec), "sar": dict(spec)}


def _file(sample, stream):
    return f"'{sample['files'][stream]}'" if stream in sample.get("files", {}) else f"of sample '{sample['name']}'"


def validate_dataset(reader, indices=None, log=None, what="training"):
    """Read every sample of ``reader`` (``indices``, default all) once, before the first epoch, so that a bad one
    fails now with a message naming its file rather than mid-training or not at all: label values whole numbers
    within the classes (the readers' checks: fractions and NaN are refused), sizes, and the inputs' coverage (a
    sample whose optical or SAR raster has no data anywhere is refused; pixels without data are counted and logged:
    training ignores them, as inference writes nodata there).  ``log`` gets progress and the summary; returns a dict
    of counts."""
    log = log or (lambda msg: None)
    indices = list(range(len(reader))) if indices is None else list(indices)
    started, last = time.time(), time.time()
    partial, unlabelled, no_data_pixels, pixels = [], [], 0, 0
    log(f"Checking the {len(indices)} {what} samples (labels, classes, coverage) before the first epoch.")
    for n, index in enumerate(indices):
        sample = reader[index]          # the reader checks label values and sizes (EDCDatasetError naming the file)
        opt_valid = np.isfinite(sample["optical"]).all(axis=0)
        sar_valid = np.isfinite(sample["sar"]).all(axis=0)
        for stream, valid in (("optical", opt_valid), ("sar", sar_valid)):
            if not valid.any():
                name = "SAR" if stream == "sar" else "optical"
                raise EDCDatasetError(
                    f"Sample '{sample['name']}': the {name} raster {_file(sample, stream)} has no data anywhere on "
                    f"the sample's optical grid (not covering it, nodata or NaN everywhere); remove this sample or "
                    f"give a {name} raster that covers {_file(sample, 'optical')}.")
        valid = opt_valid & sar_valid
        pixels += valid.size
        if not valid.all():
            no_data_pixels += int((~valid).sum())
            partial.append((float((~sar_valid).mean()), float((~opt_valid).mean()), sample))
        if not ((sample["label"] != IGNORE_LABEL) & valid).any():
            unlabelled.append(sample)
        if time.time() - last > 10:
            last = time.time()
            log(f"  {n + 1}/{len(indices)} samples checked ({time.time() - started:.0f} s)")
    if partial:
        sar_share, opt_share, sample = max(partial, key=lambda p: p[0] + p[1])
        worst = (f"the SAR raster {_file(sample, 'sar')} has no data on {sar_share:.1%}" if sar_share >= opt_share
                 else f"the optical raster {_file(sample, 'optical')} has no data on {opt_share:.1%}")
        log(f"{len(partial)} of {len(indices)} {what} samples have pixels where the optical or the SAR raster has no "
            f"data ({no_data_pixels / max(1, pixels):.1%} of all pixels; most: {worst} of sample "
            f"'{sample['name']}'). Training ignores those pixels (label {IGNORE_LABEL}, inputs 0), as inference "
            "writes nodata there.")
    if unlabelled:
        log(f"{len(unlabelled)} {what} sample(s) have no labelled pixel with data (e.g. '{unlabelled[0]['name']}'); "
            "they add nothing to the class loss.")
    log(f"Checked {len(indices)} {what} samples in {time.time() - started:.1f} s.")
    return {"samples": len(indices), "partial": len(partial), "no_data_pixels": no_data_pixels,
            "unlabelled": len(unlabelled)}
