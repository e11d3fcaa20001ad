"""M3M-CR (Xu et al. 2024): cloudy and cloud-free PlanetScope (3 m), Sentinel-1 and WorldCover (10 m), cloud masks.

Layout: ``<split>/<kind>_<season>/<kind>_<season>_<n>/<kind>_<season>_<n>_p_<k>.<ext>`` with kinds
``planet_cloudy``, ``planet_cloudfree``, ``S1``, ``landcover`` (.tif) and ``cloudmask`` (.npy).  The SAR and the
labels are resampled onto the optical grid by the rule of inference (``model.geo.warp``: nearest for labels, bilinear
for the 10 m SAR).  WorldCover codes are grouped into the usual six classes; snow (70), mangroves (95) and moss (100)
are ignored.
"""

import re

import numpy as np

from ..errors import EDCDatasetError
from . import _raster
from .base import IGNORE, Dataset, pair_by_key

WORLDCOVER_GROUPS = {10: 0, 20: 1, 30: 1, 40: 2, 50: 3, 60: 4, 80: 5, 90: 5, 70: IGNORE, 95: IGNORE, 100: IGNORE,
                     0: IGNORE}
KINDS = ("planet_cloudy", "planet_cloudfree", "S1", "landcover", "cloudmask")
_NAME = re.compile(r"^(planet_cloudy|planet_cloudfree|S1|landcover|cloudmask)_(\w+?_\d+_p_\d+)$")


def group_worldcover(codes, where="label"):
    lut = np.full(256, -1, np.int64)
    for code, cls in WORLDCOVER_GROUPS.items():
        lut[code] = cls
    codes = codes.astype(np.int64)
    out = lut[np.clip(codes, 0, 255)]
    bad = (out < 0) | (codes < 0) | (codes > 255)
    if bad.any():
        raise EDCDatasetError(f"Label '{where}' has values {np.unique(codes[bad])[:6].tolist()} that are not "
                              "ESA WorldCover codes (10, 20, ..., 100).")
    return out


class M3MCR(Dataset):
    kind = "m3m_cr"
    classes = (("Forest", "#006400"), ("Rangeland", "#ffbb22"), ("Agriculture", "#f096ff"), ("Urban", "#fa0000"),
               ("Barren", "#b4b4b4"), ("Water", "#0064c8"))
    optical_bands = ("Blue", "Green", "Red", "NIR")
    gsd_m = 3.0  # PlanetScope
    sar_bands = ("VV", "VH")

    def layout_hint(self):
        return ("Expected <split>/planet_cloudy_<season>/..., planet_cloudfree_*, S1_*, landcover_* (.tif) and "
                "cloudmask_* (.npy) folders as in the M3M-CR release.")

    def scan(self):
        base = self.root / self.split if self.split else self.root
        if not base.is_dir():
            return []
        groups = {k: {} for k in KINDS}
        for path in list(base.glob("*/*/*.tif")) + list(base.glob("*/*/*.npy")):
            match = _NAME.match(path.stem)
            if match:
                groups[match.group(1)][match.group(2)] = path
        if not any(groups.values()):
            return []
        keys = pair_by_key([groups[k] for k in KINDS], KINDS, base)
        return [{k: groups[k][key] for k in KINDS} | {"key": key} for key in keys]

    def load(self, item):
        ref = item["planet_cloudy"]
        optical = _raster.read_valid(ref)
        cloudfree = _raster.read_on_grid(item["planet_cloudfree"], ref)
        sar = _raster.read_valid(item["S1"], ref)
        codes = _raster.read_on_grid(item["landcover"], ref, categorical=True)[0]
        label = group_worldcover(codes, item["landcover"])
        label[_raster.nodata_mask(ref) | _raster.nodata_mask(item["planet_cloudfree"])] = IGNORE
        cloud = np.load(item["cloudmask"], allow_pickle=False).astype(bool)
        return {"name": f"m3m_cr_{item['key']}", "optical": optical, "sar": sar, "label": label,
                "cloudfree": cloudfree, "cloud_mask": cloud,
                "files": {"optical": str(ref), "sar": str(item["S1"]), "label": str(item["landcover"])}}
