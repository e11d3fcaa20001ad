"""The samples a run trains and validates on: the readers of the training split(s), the validation hold-out and the
normalisation the weights will carry.  Imports only numpy (the readers import GDAL when they read)."""

import numpy as np

from ..errors import EDCDatasetError, EDCError


class _Concat:
    """Several readers of the same kind as one."""

    def __init__(self, readers):
        self.readers = readers
        first = readers[0]
        for key in ("kind", "classes", "optical_bands", "sar_bands", "value_max"):
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
