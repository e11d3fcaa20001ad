"""WHU-OPT-SAR (Li et al. 2022): 4-band optical (R, G, B, NIR), 1-band SAR and labels 0, 10, ..., 70.

Layout: ``[<split>/]optical/*.tif``, ``sar/*.tif`` and ``lbl/*.tif`` (``opt``, ``label`` and ``labels`` are accepted
too) with the same file names.  Label value 10*k becomes class k.
"""

import numpy as np

from ..errors import EDCDatasetError
from . import _raster
from .base import IGNORE, Dataset, pair_by_key

_FOLDERS = {"optical": ("optical", "opt"), "sar": ("sar",), "label": ("lbl", "label", "labels")}


def find_folder(base, names):
    for name in names:
        if (base / name).is_dir():
            return base / name
    return None


class WHUOptSar(Dataset):
    kind = "whu_opt_sar"
    classes = (("background", "#000000"), ("farmland", "#cc6600"), ("city", "#ff0000"), ("village", "#ffff00"),
               ("water", "#0000ff"), ("forest", "#55a500"), ("road", "#5dffff"), ("others", "#989898"))
    optical_bands = ("Red", "Green", "Blue", "NIR")
    gsd_m = 5.0  # GF-1 optical and GF-3 SAR at 5 m
    sar_bands = ("SAR",)

    def layout_hint(self):
        return "Expected folders optical/, sar/ and lbl/ holding GeoTIFFs with the same names."

    def scan(self):
        base = self.root / self.split if self.split and (self.root / self.split).is_dir() else self.root
        folders = [find_folder(base, names) for names in _FOLDERS.values()]
        if None in folders:
            return []
        groups = [{p.stem: p for p in list(f.glob("*.tif")) + list(f.glob("*.tiff"))} for f in folders]
        keys = pair_by_key(groups, tuple(_FOLDERS), base)
        return [tuple(g[k] for g in groups) + (k,) for k in keys]

    def load(self, item):
        opt_path, sar_path, lbl_path, key = item
        optical = _raster.read_valid(opt_path)
        sar = _raster.read_valid(sar_path, opt_path, bands=[1])
        codes = _raster.read_labels(lbl_path, opt_path)
        ignore = codes == IGNORE          # not covered by the label raster
        bad = ~ignore & ((codes % 10 != 0) | (codes < 0) | (codes > 70))
        if bad.any():
            raise EDCDatasetError(f"Label '{lbl_path}' has values {np.unique(codes[bad])[:6].tolist()}; WHU-OPT-SAR "
                                  "labels are 0, 10, 20, ..., 70.")
        return {"name": f"whu_{key}", "optical": optical, "sar": sar, "label": np.where(ignore, IGNORE, codes // 10),
                "files": {"optical": str(opt_path), "sar": str(sar_path), "label": str(lbl_path)}}
