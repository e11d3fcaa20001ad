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

from ..errors import EDCDatasetError
from ..vocabulary import MAX_BANDS, MAX_CLASSES
from . import _raster
from .base import IGNORE, Dataset, pair_by_key

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
            spec = json.loads(path.read_text(encoding="utf-8-sig"))   # a byte-order mark (Windows editors) is fine
        except (OSError, ValueError) as exc:
            raise EDCDatasetError(f"Cannot read '{path}': {exc}. Write it as UTF-8 JSON, e.g. "
                                  '[{"name": "background", "color": "#cccccc"}, ...].') from None
        classes = spec.get("classes") if isinstance(spec, dict) else spec
        if not isinstance(classes, list) or len(classes) < 2 or not all(
                isinstance(c, dict) and isinstance(c.get("name"), str) for c in classes):
            raise EDCDatasetError(f"'{path}' must list at least two classes as objects with a 'name' "
                                  f"(and a 'color' like '{_COLOR}').")
        if len(classes) > MAX_CLASSES:
            raise EDCDatasetError(f"'{path}' lists {len(classes)} classes; at most {MAX_CLASSES} are possible "
                                  f"(class values 0..{MAX_CLASSES - 1}; {IGNORE} marks pixels without a class).")
        from ..weights.metadata import _COLOR as COLOR_RULE  # the weights' colour rule
        palette = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666")
        for i, c in enumerate(classes):
            # the rules of the weights metadata (model.weights.metadata), checked now rather than at export
            if not 0 < len(c["name"]) <= 100:
                raise EDCDatasetError(f"'{path}': class {i} has an empty or too long name (1 to 100 characters).")
            color = c.get("color", palette[i % len(palette)])
            if not isinstance(color, str) or not COLOR_RULE.match(color):
                raise EDCDatasetError(f"'{path}': class {i} ('{c['name']}') has the colour {color!r}; write it as "
                                      f"'{_COLOR}' (six hexadecimal digits, e.g. '#1f78b4'), or leave 'color' out "
                                      "for a default one.")
        self.classes = tuple((c["name"], c.get("color", palette[i % len(palette)])) for i, c in enumerate(classes))
        self._bands = spec if isinstance(spec, dict) else {}
        for key in ("optical_bands", "sar_bands"):
            names = self._bands.get(key)
            if names is not None and (not isinstance(names, list) or not names or len(names) > MAX_BANDS or
                                      not all(isinstance(n, str) and 0 < len(n) <= 64 for n in names)):
                raise EDCDatasetError(f"'{path}': '{key}' must list 1 to {MAX_BANDS} band names (text of 1 to 64 "
                                      "characters), one per band of the rasters.")

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
            for key, stream, default in (("optical_bands", "optical", "optical"), ("sar_bands", "sar", "SAR")):
                count = first[stream].shape[0]
                names = self._bands.get(key) or [f"{default} {i + 1}" for i in range(count)]
                if len(names) != count:
                    raise EDCDatasetError(f"'{self.root / 'classes.json'}' lists {len(names)} {key} but "
                                          f"'{items[0][stream]}' has {count} bands; list one name per band.")
                setattr(self, key, tuple(names))
            self.gsd_m = _raster.ground_sampling_distance(items[0]["optical"])
        return items

    def load(self, item):
        ref = item["optical"]
        sample = {"name": f"{self.root.name}_{item['key']}", "optical": _raster.read_valid(ref),
                  "sar": _raster.read_valid(item["sar"], ref), "label": _raster.read_labels(item["label"], ref),
                  "files": {k: str(v) for k, v in item.items() if k != "key"}}
        if "cloudfree" in item:
            sample["cloudfree"] = _raster.read_on_grid(item["cloudfree"], ref)
        if "cloud_mask" in item:
            sample["cloud_mask"] = _raster.read_on_grid(item["cloud_mask"], ref, categorical=True)[0] > 0
        return sample
