"""``segment()``: land cover from an optical + SAR raster pair, tile by tile, on the optical raster's grid.

The story of one run, in the order the data flows: options checked -> weights opened -> inputs opened on the output
grid -> what their values mean (fill, units) -> normalisation statistics of their whole overlap -> the grid the
network runs on -> predictor -> tiles read, predicted and blended (:func:`run_tiled`) -> rows brought onto the output
grid and written -> files renamed into place.  Raises EDCError subclasses only.
"""

import math
import time
from dataclasses import dataclass, field

from ..errors import EDCCancelled, EDCInputError
from ..geo.resolution import model_grid
from ..vocabulary import EXTENT_CONTEXT
from ..weights import open_weights
from .decoding import decode_inputs
from .inputs import TileReader, input_statistics, open_inputs
from .malloc import keep_freed_memory
from .regrid import NearestRegrid
from .runtime import load_predictor
from .signals import terminated_as_cancel
from .tiling import TileGrid, run_tiled
from .writers import OutputSet


@dataclass
class SegmentResult:
    """What a run wrote.  ``class_stats``: one dict per class: value, name, pixels, area_m2 and area_ha (true areas on
    the ellipsoid whatever the CRS; None where the output has no CRS)."""
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
    ``is_cancelled()`` and ``log(message)`` are called from this thread.  Nothing is left behind on error or cancel,
    nor on SIGTERM where the run is in the main thread (see :func:`terminated_as_cancel`).
    """
    with terminated_as_cancel():
        return _segment(options, progress, is_cancelled, log)


def _segment(options, progress, is_cancelled, log):
    started, log, report = time.time(), log or _quiet, progress or _quiet
    paths = options.output_paths()
    weights = open_weights(options.weights)
    meta = weights.metadata
    tile, overlap = options.tiling(meta)
    pair = decode_inputs(open_inputs(options, meta, log), options.sar_units, log)
    optical_stats, sar_stats = input_statistics(pair, meta, log)
    predictor = load_predictor(weights, device=options.device, log=log, outputs=options.model_outputs(),
                               int8=options.cpu_int8)
    if not predictor.on_gpu:
        keep_freed_memory()  # measured to help the CPU passes between reads: see malloc.py
    batch_size = options.batch_size or predictor.default_batch
    area, at = network_area(pair, meta, options)
    model, grid = grids(pair.grid, meta, options, log, area.grid)
    log(f"Output grid: {grid.width} x {grid.height} pixels; model grid: {model.width} x {model.height}"
        f"{' (the extent and up to %d px around it)' % EXTENT_CONTEXT if area is not pair else ''}, tiles of "
        f"{min(tile, model.height)} x {min(tile, model.width)} with {overlap} px overlap, batches of {batch_size}.")

    outputs = OutputSet(paths, grid, meta, len(pair.optical_bands))
    write = NearestRegrid(model, grid, outputs.write_rows, area.grid, at).write_rows if model != grid else \
        outputs.write_rows
    try:
        with TileReader(area.on_grid(model), optical_stats, sar_stats) as reader:
            run_tiled(TileGrid(model.height, model.width, tile, overlap), outputs.channels, reader.read,
                      lambda batch: predictor.stacked(batch, outputs.wants_cloudfree, outputs.wants_reliability),
                      lambda y, values, valid: write(y, values, valid, optical_stats),
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

    areas = outputs.areas
    if areas is None:
        log("The output has no coordinate reference system (or one its corners cannot be projected in): class "
            "areas are not reported, only pixel counts.")
    class_stats = [{"value": c["value"], "name": c["name"], "pixels": int(outputs.counts[c["value"]]),
                    "area_m2": None if areas is None else float(areas[c["value"]]),
                    "area_ha": None if areas is None else float(areas[c["value"]]) / 1e4} for c in meta["classes"]]
    return SegmentResult(
        output_path=str(paths["land cover"]), confidence_path=_str(paths.get("confidence")),
        cloudfree_path=_str(paths.get("cloud-free")), reliability_path=_str(paths.get("reliability")),
        class_stats=class_stats, device=predictor.device, width=grid.width, height=grid.height,
        geotransform=tuple(grid.geotransform), crs_wkt=grid.wkt, trained=meta["trained"], tile_size=tile,
        overlap=overlap, batch_size=batch_size, seconds=time.time() - started)


def network_area(pair, meta, options):
    """(the inputs over the area the network runs on, the (column, row) of the output grid in it).  Around a
    processing extent (with the map on the optical grid) that is the extent widened by ``EXTENT_CONTEXT`` model
    pixels on every side within the inputs' overlap, so that the extent's edges see the context they have in a run
    over the whole overlap; otherwise ``pair`` itself."""
    if options.extent is None or options.output_grid == "model":
        return pair, (0, 0)
    whole = pair.whole_overlap()  # large enough that the rounding of the model grid's size does not matter
    model, _ = model_grid(whole.grid, meta["gsd_m"], native=options.resolution == "native")
    ratio = abs(model.geotransform[1] / whole.grid.geotransform[1])
    return pair.widened(math.ceil(EXTENT_CONTEXT * ratio - 1e-9), whole)


def grids(grid, meta, options, log, area=None):
    """(model grid, output grid): where the network runs (over ``area``, default ``grid``, at the weights'
    resolution or on the optical grid) and where the map is written (``options.output_grid``: the optical ``grid``,
    or the model grid)."""
    model, note = model_grid(grid if area is None else area, meta["gsd_m"], native=options.resolution == "native")
    if note:
        log(note)
    return model, (model if options.output_grid == "model" else grid)


def _str(path):
    return None if path is None else str(path)
