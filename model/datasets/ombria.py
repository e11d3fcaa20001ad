"""OMBRIA flood mapping (Drakonakis et al. 2022): Sentinel-1 VV and Sentinel-2 B11/B8/B3 PNGs with a flood mask.

Layout: ``OmbriaS1/<split>/AFTER/S1_after_NNNN.png``, ``OmbriaS2/<split>/AFTER/S2_after_NNNN.png`` and
``OmbriaS1/<split>/MASK/S1_mask_NNNN.png`` (0 = background, 255 = flood water).  Files with the same number show
the same place.  The PNGs are 8-bit and carry no georeferencing.
"""

import numpy as np

from ..errors import EDCDatasetError
from .base import Dataset, pair_by_key, trailing_number


def _png(path):
    from PIL import Image
    try:
        with Image.open(path) as im:
            return np.array(im)
    except OSError as exc:
        raise EDCDatasetError(f"Cannot read image '{path}': {exc}") from None


class Ombria(Dataset):
    kind = "ombria"
    classes = (("background", "#d9d9d9"), ("flood water", "#1f78b4"))
    optical_bands = ("B11", "B8", "B3")
    gsd_m = 10.0  # Sentinel-2 / Sentinel-1
    sar_bands = ("VV",)
    value_max = 255.0

    def layout_hint(self):
        return ("Expected OmbriaS1/<split>/AFTER/S1_after_NNNN.png, OmbriaS2/<split>/AFTER/S2_after_NNNN.png and "
                "OmbriaS1/<split>/MASK/S1_mask_NNNN.png (split: train or test).")

    def scan(self):
        split = self.split or "train"
        folders = [self.root / "OmbriaS2" / split / "AFTER", self.root / "OmbriaS1" / split / "AFTER",
                   self.root / "OmbriaS1" / split / "MASK"]
        if not all(f.is_dir() for f in folders):
            return []
        groups = [{trailing_number(p): p for p in f.glob("*.png")} for f in folders]
        keys = pair_by_key(groups, ("S2 image", "S1 image", "flood mask"), self.root)
        return [tuple(g[k] for g in groups) + (k,) for k in keys]

    def load(self, item):
        s2_path, s1_path, mask_path, key = item
        s2, s1, mask = _png(s2_path), _png(s1_path), _png(mask_path)
        if s2.ndim != 3 or s2.shape[2] < 3:
            raise EDCDatasetError(f"'{s2_path}' is not an RGB image (B11, B8, B3).")
        if s1.ndim == 3:
            s1 = s1[..., 0]
        if mask.ndim == 3:
            mask = mask[..., 0]
        odd = np.setdiff1d(np.unique(mask), [0, 255])
        if odd.size:
            raise EDCDatasetError(f"Flood mask '{mask_path}' has values {odd[:5].tolist()}; OMBRIA masks hold only "
                                  "0 (background) and 255 (flood water).")
        return {"name": f"ombria_{self.split or 'train'}_{key}",
                "optical": np.ascontiguousarray(s2[..., :3].transpose(2, 0, 1), dtype=np.float32),
                "sar": s1[None].astype(np.float32),
                "label": (mask == 255).astype(np.int64),
                "files": {"optical": str(s2_path), "sar": str(s1_path), "label": str(mask_path)}}
