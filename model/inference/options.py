"""What one ``segment()`` run is asked to do, checked before any raster is read."""

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import EDCInputError
from ..vocabulary import CPU_INT8, DEVICES, MAX_BATCH, MAX_TILE, MIN_TILE, OUTPUT_GRIDS, RESOLUTIONS, SAR_UNITS


@dataclass
class SegmentOptions:
    """Inputs, weights and outputs of one run, and how to run it.

    ``optical_bands`` / ``sar_bands``: 1-based band numbers in the order the weights expect (None: the weights'
    defaults).  ``extent``: (xmin, ymin, xmax, ymax) in the optical CRS (None: the whole overlap).  ``tile_size`` /
    ``overlap``: None = the weights' values; ``batch_size``: None = automatic (more tiles on a GPU).  ``device``:
    one of DEVICES.  ``sar_units``: one of SAR_UNITS ("auto": told from the data, see model/geo/units.py).
    ``resolution``: "weights" (the inputs are read at the weights' ground sampling distance where the optical pixels
    differ from it, see model/geo/resolution.py) or "native"; ``output_grid``: "optical" or "model".
    ``confidence``, ``cloudfree``, ``reliability``: optional extra GeoTIFFs.  ``cpu_int8``: with ONNX weights on the
    CPU, int8 matrix products (5-13 % less network time, same map within a few pixels in ten thousand; False:
    float32 throughout)."""
    optical: str
    sar: str
    weights: str
    output: str
    optical_bands: list = None
    sar_bands: list = None
    extent: tuple = None
    tile_size: int = None
    overlap: int = None
    batch_size: int = None
    device: str = "auto"
    sar_units: str = "auto"
    resolution: str = "weights"
    output_grid: str = "optical"
    confidence: str = None
    cloudfree: str = None
    reliability: str = None
    cpu_int8: bool = CPU_INT8

    def __post_init__(self):
        if self.device not in DEVICES:
            raise EDCInputError(f"Device '{self.device}' is unknown; choose one of {', '.join(DEVICES)}.")
        for name, value, allowed in (("Processing resolution", self.resolution, RESOLUTIONS),
                                     ("Output grid", self.output_grid, OUTPUT_GRIDS)):
            if value not in allowed:
                raise EDCInputError(f"{name} '{value}' is unknown; choose one of {', '.join(allowed)}.")
        if self.sar_units not in SAR_UNITS:
            raise EDCInputError(f"SAR units '{self.sar_units}' are unknown; choose one of {', '.join(SAR_UNITS)}.")
        if self.batch_size is not None and (not _is_int(self.batch_size) or not 1 <= self.batch_size <= MAX_BATCH):
            raise EDCInputError(f"Batch size {self.batch_size} is out of range; choose between 1 and {MAX_BATCH}.")

    def output_paths(self):
        """{"land cover": Path, and "confidence" / "cloud-free" / "reliability" where asked for}, each checked."""
        asked = {"land cover": self.output, "confidence": self.confidence, "cloud-free": self.cloudfree,
                 "reliability": self.reliability}
        paths = {k: check_output_path(v, k) for k, v in asked.items() if v or k == "land cover"}
        if len(set(paths.values())) != len(paths):
            raise EDCInputError("Two outputs have the same file name; give each output its own .tif file.")
        inputs = {"optical raster": self.optical, "SAR raster": self.sar, "weights file": self.weights}
        for label, path in paths.items():
            for what, source in inputs.items():
                if same_file(path, source):
                    raise EDCInputError(f"The {label} output '{path}' is the {what} '{source}': writing it would "
                                        f"replace the input; choose another file name for the {label} output.")
        return paths

    def model_outputs(self):
        """The network outputs this run writes: probabilities, and the cloud-free image and reliability if asked."""
        return ("probabilities",) + (("cloudfree",) if self.cloudfree else ()) + \
            (("reliability",) if self.reliability else ())

    def tiling(self, meta):
        """(tile size, overlap): the options', or the weights' where not given; EDCInputError when out of range."""
        tile = meta["tile_size"] if self.tile_size is None else self.tile_size
        overlap = meta["overlap"] if self.overlap is None else self.overlap
        if not _is_int(tile) or not MIN_TILE <= tile <= MAX_TILE:
            raise EDCInputError(f"Tile size {tile} is out of range; choose a tile size between {MIN_TILE} and "
                                f"{MAX_TILE} pixels (the weights suggest {meta['tile_size']}).")
        if not _is_int(overlap) or not 0 <= overlap <= tile // 2:
            raise EDCInputError(f"Tile overlap {overlap} is out of range; choose an overlap between 0 and half the "
                                f"tile size ({tile // 2} pixels).")
        return int(tile), int(overlap)


def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def same_file(output, source):
    """Whether the ``output`` path names the file ``source`` (a path or a GDAL dataset name such as
    ``file.gpkg|layername=x``): symlinks resolved, case folded where the system does (``os.path.samefile`` where the
    output exists: on a case-insensitive filesystem ``A.TIF`` is ``a.tif``)."""
    if not source:
        return False
    source = str(source).split("|")[0]
    try:
        if os.path.exists(output) and os.path.exists(source):
            return os.path.samefile(output, source)
        return os.path.normcase(os.path.realpath(output)) == os.path.normcase(os.path.realpath(source))
    except (OSError, ValueError):
        return False


def check_output_path(path, label):
    """The output path as a Path; EDCInputError when its folder is missing or not writable."""
    if not path:
        raise EDCInputError(f"No file name was given for the {label} output; choose a .tif file.")
    path = Path(str(path)).expanduser().absolute()
    folder = path.parent
    if not folder.is_dir():
        raise EDCInputError(f"The folder of the {label} output '{path}' does not exist; create it or choose "
                            "another folder.")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise EDCInputError(f"The folder of the {label} output '{path}' is not writable; choose a folder you can "
                            "write to.")
    if path.is_dir():
        raise EDCInputError(f"The {label} output '{path}' is a folder; choose a file name ending in .tif.")
    return path
