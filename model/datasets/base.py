"""Common pieces of the dataset readers.

Every reader yields the same sample dict of numpy arrays in raw units (no normalisation):
``optical`` (Co, H, W) float32, ``sar`` (Cs, H, W) float32, ``label`` (H, W) int64 with class indices 0..K-1 and
``IGNORE`` for pixels that carry no class, and optionally ``cloudfree`` (Co, H, W) float32 (the clear image of the
same place) and ``cloud_mask`` (H, W) bool (True = cloud).  ``name`` identifies the sample in messages and
``files`` (stream -> path) names its files.  ``optical`` and ``sar`` are NaN where the raster has no data by the
validity rule of inference (nodata, no coverage on the optical grid, not finite): training ignores those pixels.
"""

import re
from pathlib import Path

import numpy as np

from ..errors import EDCDatasetError
from ..vocabulary import DEFAULT_GSD_M
from ..vocabulary import IGNORE_LABEL as IGNORE


class Dataset:
    """A list of samples read lazily from disk; subclasses fill ``items`` and implement ``load``."""

    kind = "base"
    classes = ()          # ((name, "#rrggbb"), ...)
    optical_bands = ()
    sar_bands = ()
    gsd_m = DEFAULT_GSD_M  # ground sampling distance of the optical samples, metres: the grid the network learns on
    ignore_index = IGNORE

    def __init__(self, root, split=None):
        self.root = Path(root)
        self.split = split
        if not self.root.is_dir():
            raise EDCDatasetError(f"Dataset folder '{self.root}' does not exist; give the folder that holds the "
                                  f"{self.kind} data.")
        self.items = self.scan()
        if not self.items:
            where = f"split '{split}' of " if split else ""
            raise EDCDatasetError(f"Found no {self.kind} samples in {where}dataset folder '{self.root}'. "
                                  f"{self.layout_hint()}")
        self[0]  # a broken first sample fails now, with its name, rather than mid-training

    def scan(self):
        raise NotImplementedError

    def load(self, item):
        raise NotImplementedError

    def layout_hint(self):
        return ""

    def __len__(self):
        return len(self.items)

    def __getitem__(self, index):
        sample = self.load(self.items[index])
        check_sample(sample, len(self.classes), self.ignore_index)
        return sample

    @property
    def num_classes(self):
        return len(self.classes)


def check_sample(sample, num_classes, ignore=IGNORE):
    """Check shapes and label values of a sample; raise EDCDatasetError naming the sample."""
    name = sample.get("name", "?")
    opt, sar, label = sample["optical"], sample["sar"], sample["label"]
    hw = opt.shape[1:]
    if sar.shape[1:] != hw or label.shape != hw:
        raise EDCDatasetError(f"Sample '{name}': optical {opt.shape[1:]}, SAR {sar.shape[1:]} and label "
                              f"{label.shape} sizes differ after resampling; the files do not cover the same area.")
    for key in ("cloudfree", "cloud_mask"):
        if sample.get(key) is not None and sample[key].shape[-2:] != hw:
            raise EDCDatasetError(f"Sample '{name}': {key} size {sample[key].shape[-2:]} differs from optical {hw}.")
    bad = (label != ignore) & ((label < 0) | (label >= num_classes))
    if bad.any():
        values = np.unique(label[bad])[:8].tolist()
        where = f" '{sample['files']['label']}'" if "label" in sample.get("files", {}) else ""
        raise EDCDatasetError(f"Sample '{name}': label values {values} are outside the {num_classes} classes "
                              f"(0..{num_classes - 1}, {ignore} = ignore). Fix the label raster{where} or the class "
                              "list.")
    return sample


_NUMBER = re.compile(r"(\d+)(?!.*\d)")


def trailing_number(path):
    """The last run of digits in a file name (used to pair files like S1_after_0001 and S2_after_0001)."""
    match = _NUMBER.search(Path(path).stem)
    return match.group(1) if match else None


def pair_by_key(groups, names, where):
    """Pair files of several groups by key; every key must be present in every group, else EDCDatasetError."""
    keys = [set(g) for g in groups]
    common = set.intersection(*keys) if keys else set()
    for g, n in zip(keys, names):
        extra = sorted(g - common)
        if extra:
            raise EDCDatasetError(f"Dataset folder '{where}': {len(extra)} {n} file(s) have no partner "
                                  f"(e.g. '{extra[0]}'). Every sample needs all of: {', '.join(names)}; "
                                  "remove the unpaired files or add the missing ones.")
    return sorted(common)
