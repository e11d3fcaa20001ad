"""What is decided once per scene and sent to the workers: a :class:`ScenePlan` holds paths, grids, decodings and the
normalisation statistics, never arrays of pixels.  :func:`prepare_scene` makes it (as ``segment()`` decides the same
things, in the same order); :func:`block_inputs` opens a block's inputs from it on a worker."""

from dataclasses import dataclass, replace

from ..geo.readers import Decoding
from ..inference.decoding import decode_inputs, with_intensities
from ..inference.inputs import input_statistics, open_inputs
from ..inference.regrid import output_sources
from ..inference.run import grids, network_area


@dataclass(frozen=True)
class ScenePlan:
    """One scene: its options (:class:`SegmentOptions`: paths, bands, extent, settings), the tiling, the grid the
    network runs on and the grid the map is written on, how the inputs' values are decoded and their statistics."""
    options: object
    tile: int
    overlap: int
    model: object
    output: object
    area: object       # the optical grid window the model grid covers: an extent widened, else the output grid
    area_offset: tuple  # its (column, row) in the optical raster
    at: tuple           # the output grid's (column, row) in it
    optical_decoding: Decoding
    sar_decoding: Decoding
    optical_stats: dict
    sar_stats: dict
    n_optical: int


def prepare_scene(options, meta, log):
    """The :class:`ScenePlan` of ``options`` with weights metadata ``meta``: inputs opened and checked, their values
    decoded, the statistics of their whole overlap computed (once per scene), the grids chosen."""
    tile, overlap = options.tiling(meta)
    pair = decode_inputs(open_inputs(options, meta, log), options.sar_units, log)
    optical_stats, sar_stats = input_statistics(pair, meta, log)
    area, at = network_area(pair, meta, options)
    model, output = grids(pair.grid, meta, options, log, area.grid)
    return ScenePlan(options, tile, overlap, model, output, area.grid, area.offset, at, pair.optical_decoding,
                     pair.sar_decoding, optical_stats, sar_stats, len(pair.optical_bands))


def plan_sources(plan):
    """(rows, columns): the model row and column nearest to each output row and column of ``plan``."""
    return output_sources(plan.model, plan.output, plan.area, plan.at)


def block_inputs(plan, block, meta):
    """An input pair for :class:`TileReader` (``row_readers()``) over ``block``'s tile window on the model grid,
    decoded as ``plan`` says.  The optical raster read at its own pixels is read on the window itself; whatever is
    warped (the SAR, and the optical where the model grid is not its own) is warped in the chunks of whole rows of
    the scene the whole-scene run warps, then cut: GDAL's approximate transformer makes a warped pixel depend on the
    width of the chunk it is warped in, so that only the same chunks give the same values."""
    pair, _ = with_intensities(open_inputs(plan.options, meta, _quiet))
    pair = replace(pair, grid=plan.area, offset=plan.area_offset, optical_decoding=plan.optical_decoding,
                   sar_decoding=plan.sar_decoding)
    pair = pair.on_grid(plan.model)
    (y0, y1), (x0, x1) = block.rows.window, block.cols.window
    optical_rows, sar_rows = pair.row_readers()
    if not pair.optical_resampled:
        window = replace(pair, grid=plan.model.window(x0, y0, x1 - x0, y1 - y0),
                         offset=(pair.offset[0] + x0, pair.offset[1] + y0))
        return _Rows(window.row_readers()[0], _Shifted(sar_rows, y0, x0))
    return _Rows(_Shifted(optical_rows, y0, x0), _Shifted(sar_rows, y0, x0))


class _Rows:
    """Stands in for an :class:`InputPair` where :class:`TileReader` asks for its row readers."""

    def __init__(self, optical_rows, sar_rows):
        self.readers = optical_rows, sar_rows

    def row_readers(self):
        return self.readers


class _Shifted:
    """A scene-wide :class:`RowCache` read in a block's window coordinates."""

    def __init__(self, rows, y0, x0):
        self.rows, self.y0, self.x0 = rows, y0, x0

    def read(self, y, height, x, width):
        return self.rows.read(self.y0 + y, height, self.x0 + x, width)


def _quiet(*_args):
    return None
