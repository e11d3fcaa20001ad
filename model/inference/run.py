"""``segment()``: land cover from an optical + SAR raster pair, tile by tile, on the optical raster's grid.

The story of one run, in the order the data flows: options checked -> weights opened -> inputs opened on the output
grid -> normalisation statistics of the whole scene -> predictor -> tiles read, predicted and blended
(:func:`run_tiled`) -> rows written -> files renamed into place.  Raises EDCError subclasses only.
"""

import time
from dataclasses import dataclass, field

from ..errors import EDCCancelled, EDCInputError
from ..weights import open_weights
from .inputs import TileReader, input_statistics, open_inputs
from .malloc import keep_freed_memory
from .runtime import load_predictor
from .tiling import TileGrid, run_tiled
from .writers import OutputSet


@dataclass
class SegmentResult:
    output_path: str
    confidence_path: str = None
    cloudfree_path: str = None
    reliability_path: str = None
    class_stats: list = field(default_factory=list)
    device: str = ""
    width: int = 0
    height: int = 0
    geotransform: tuple = ()
    crs_wkt: str = ""
    trained: bool = False
    tile_size: int = 0
    overlap: int = 0
    batch_size: int = 0
    seconds: float = 0.0


def _quiet(*_args):
    return None


def segment(options, progress=None, is_cancelled=None, log=None):
    """Map land cover as asked by ``options`` (:class:`SegmentOptions`) into its output GeoTIFF(s).

    Output on the optical grid (cropped to the extent and to the SAR footprint), nodata (255) wherever an input is
    nodata, optional confidence / cloud-free / reliability rasters, per-class statistics.  ``progress(percent)``,
    ``is_cancelled()`` and ``log(message)`` are called from this thread.  Nothing is left behind on error or cancel.
    """
    started, log, report = time.time(), log or _quiet, progress or _quiet
    paths = options.output_paths()
    weights = open_weights(options.weights)
    meta = weights.metadata
    tile, overlap = options.tiling(meta)
    pair = open_inputs(options, meta, log)
    optical_stats, sar_stats = input_statistics(pair, meta)
    predictor = load_predictor(weights, device=options.device, log=log)
    if not predictor.on_gpu:
        keep_freed_memory()  # measured to help the CPU passes between reads: see malloc.py
    batch_size = options.batch_size or predictor.default_batch
    grid = pair.grid
    log(f"Output grid: {grid.width} x {grid.height} pixels; tiles of {min(tile, grid.height)} x "
        f"{min(tile, grid.width)} with {overlap} px overlap, batches of {batch_size}.")

    outputs = OutputSet(paths, grid, meta, len(pair.optical_bands))
    try:
        with TileReader(pair, optical_stats, sar_stats) as reader:
            run_tiled(TileGrid(grid.height, grid.width, tile, overlap), outputs.channels, reader.read,
                      lambda batch: predictor.stacked(batch, outputs.wants_cloudfree, outputs.wants_reliability),
                      lambda y, values, valid: outputs.write_rows(y, values, valid, optical_stats),
                      batch_size=batch_size, progress=lambda pct: report(min(95.0, 0.95 * pct)),
                      is_cancelled=is_cancelled, prefetch=predictor.on_gpu)  # on the CPU: read between the passes
        if is_cancelled is not None and is_cancelled():
            raise EDCCancelled("Cancelled by the user; no output was written.")
        outputs.commit()
        report(100.0)
    except MemoryError:
        raise EDCInputError("Not enough memory for this tile size and batch size; reduce the tile size or the batch "
                            "size.") from None
    finally:
        outputs.discard()

    class_stats = [{"value": c["value"], "name": c["name"], "pixels": int(outputs.counts[c["value"]]),
                    "area": float(outputs.counts[c["value"]] * grid.pixel_area)} for c in meta["classes"]]
    return SegmentResult(
        output_path=str(paths["land cover"]), confidence_path=_str(paths.get("confidence")),
        cloudfree_path=_str(paths.get("cloud-free")), reliability_path=_str(paths.get("reliability")),
        class_stats=class_stats, device=predictor.device, width=grid.width, height=grid.height,
        geotransform=tuple(grid.geotransform), crs_wkt=grid.wkt, trained=meta["trained"], tile_size=tile,
        overlap=overlap, batch_size=batch_size, seconds=time.time() - started)


def _str(path):
    return None if path is None else str(path)
