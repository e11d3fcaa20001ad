"""A generic layout of paired GeoTIFFs, for users' own data.

::

    <root>/classes.json            [{"name": "water", "color": "#1f78b4"}, ...]  (class k = label value k)
    <root>/[<split>/]optical/NAME.tif    optical bands (possibly cloudy)
    <root>/[<split>/]sar/NAME.tif        SAR bands
    <root>/[<split>/]label/NAME.tif      class values 0..K-1; 255 = no label
    <root>/[<split>/]cloudfree/NAME.tif  optional: the clear optical image of the same place
    <root>/[<split>/]cloud_mask/NAME.tif optional: 1 = cloud

``classes.json`` may also be an object {"classes": [...], "optical_bands": [...], "sar_bands": [...]}.  SAR, labels,
cloud-free images and cloud masks are resampled onto the optical grid when their grid differs, by the rule of
inference (``model.geo.warp``): nearest for labels and masks, average or bilinear for SAR and optical values.
"""

import json

import numpy as np

from ..errors import EDCDatasetError
from . import _raster
from .base import Dataset, pair_by_key

_COLOR = "#rrggbb"


class Generic(Dataset):
    kind = "generic"

    def __init__(self, root, split=None):
        from pathlib import Path
        self._read_classes(Path(root) / "classes.json")
        super().__init__(root, split)

    def _read_classes(self, path):
        if not path.is_file():
            raise EDCDatasetError(f"Dataset folder '{path.parent}' has no classes.json; write one listing the "
                                  'classes, e.g. [{"name": "background", "color": "#cccccc"}, '
                                  '{"name": "water", "color": "#1f78b4"}].')
        try:
            spec = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise EDCDatasetError(f"Cannot read '{path}': {exc}") from None
        classes = spec.get("classes") if isinstance(spec, dict) else spec
        if not isinstance(classes, list) or len(classes) < 2 or not all(
                isinstance(c, dict) and isinstance(c.get("name"), str) for c in classes):
            raise EDCDatasetError(f"'{path}' must list at least two classes as objects with a 'name' "
                                  f"(and a 'color' like '{_COLOR}').")
        palette = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666")
        self.classes = tuple((c["name"], c.get("color", palette[i % len(palette)])) for i, c in enumerate(classes))
        self._bands = spec if isinstance(spec, dict) else {}

    def layout_hint(self):
        return "Expected optical/, sar/ and label/ folders (optionally cloudfree/ and cloud_mask/) of GeoTIFFs."

    def scan(self):
        base = self.root / self.split if self.split and (self.root / self.split).is_dir() else self.root
        names = ["optical", "sar", "label"]
        if not all((base / n).is_dir() for n in names):
            return []
        names += [n for n in ("cloudfree", "cloud_mask") if (base / n).is_dir()]
        groups = [{p.stem: p for p in list((base / n).glob("*.tif")) + list((base / n).glob("*.tiff"))}
                  for n in names]
        keys = pair_by_key(groups, names, base)
        items = [dict(zip(names, (g[k] for g in groups)), key=k) for k in keys]
        if items:
            first = self.load(items[0])
            self.optical_bands = tuple(self._bands.get("optical_bands") or
                                       [f"optical {i + 1}" for i in range(first["optical"].shape[0])])
            self.sar_bands = tuple(self._bands.get("sar_bands") or
                                   [f"SAR {i + 1}" for i in range(first["sar"].shape[0])])
        return items

    def load(self, item):
        ref = item["optical"]
        sample = {"name": f"{self.root.name}_{item['key']}", "optical": _raster.read(ref),
                  "sar": np.nan_to_num(_raster.read_on_grid(item["sar"], ref)),
                  "label": _raster.read_on_grid(item["label"], ref, categorical=True, dtype=np.int64)[0]}
        if "cloudfree" in item:
            sample["cloudfree"] = _raster.read_on_grid(item["cloudfree"], ref)
        if "cloud_mask" in item:
            sample["cloud_mask"] = _raster.read_on_grid(item["cloud_mask"], ref, categorical=True)[0] > 0
        return sample
