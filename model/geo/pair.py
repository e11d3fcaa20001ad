"""The two inputs of one run on the output grid: readers for the tiles and the samples for the statistics."""

from dataclasses import dataclass, field, replace

from .grid import output_grid
from .readers import RAW, BandReader, Decoding, RowCache, WarpedReader
from .sampling import native_sample, statistics_sample


@dataclass
class InputPair:
    """The selected optical bands (a window at ``offset`` of the optical raster) and SAR bands of one run, both on
    the output ``grid``, and how their raw values are decoded (:class:`Decoding`: fill values, decibels)."""
    optical: object
    optical_bands: list
    sar: object
    sar_bands: list
    grid: object
    offset: tuple
    optical_decoding: Decoding = field(default=RAW)
    sar_decoding: Decoding = field(default=RAW)
    optical_resampled: bool = False  # ``grid`` is not the optical raster's own: warp the optical onto it too

    def on_grid(self, grid):
        """The same inputs read on ``grid`` (the model grid over the same extent); itself where it is the grid."""
        return self if grid == self.grid else replace(self, grid=grid, offset=(0, 0), optical_resampled=True)

    def whole_overlap(self):
        """The same inputs on the grid of their whole overlap (no processing extent)."""
        grid, offset = output_grid(self.optical, self.sar)
        return replace(self, grid=grid, offset=offset)

    def widened(self, margin, whole=None):
        """(the same inputs on the grid widened by ``margin`` pixels on every side, within their whole overlap
        (``whole``, if already made: :meth:`whole_overlap`); the (column, row) of the grid in the widened one).
        ``grid`` must be the optical raster's window at ``offset``."""
        whole = self.whole_overlap() if whole is None else whole
        (c0, r0), (w0, h0) = self.offset, whole.offset
        x0, y0 = max(w0, c0 - margin), max(h0, r0 - margin)
        x1 = min(w0 + whole.grid.width, c0 + self.grid.width + margin)
        y1 = min(h0 + whole.grid.height, r0 + self.grid.height + margin)
        if (x0, y0, x1, y1) == (c0, r0, c0 + self.grid.width, r0 + self.grid.height):
            return self, (0, 0)  # nothing to widen into: the very same grid, not a recomputed one
        grid = whole.grid.window(x0 - w0, y0 - h0, x1 - x0, y1 - y0)
        return replace(self, grid=grid, offset=(x0, y0)), (c0 - x0, r0 - y0)

    def statistics_sample(self):
        """(optical, optical valid, SAR, SAR valid): a sample of the whole grid for the normalisation statistics,
        decoded, whose cost does not grow with the scene (see :mod:`model.geo.sampling`)."""
        return statistics_sample(self)

    def raw_samples(self):
        """(optical, optical valid, SAR, SAR valid): samples of both rasters' own pixels over the grid, as stored
        (no fill removed, no conversion, the SAR not resampled): what fill values and units are detected from."""
        opt = native_sample(self.optical, self.optical_bands, self.grid)
        sar = native_sample(self.sar, self.sar_bands, self.grid)
        return (*opt, *sar)

    def row_readers(self):
        """(optical, SAR) :class:`RowCache` readers for tiles moving down the grid: the optical rows in the bands' own
        type (UInt16: half the memory of float32), the SAR warped chunk by chunk."""
        optical, grid = self.optical, self.grid
        if self.optical_resampled:
            opt_warp = WarpedReader(optical, self.optical_bands, grid, decoding=self.optical_decoding, label="optical")
            opt_rows = RowCache(opt_warp, grid.width, grid.height, 256, datasets=opt_warp.datasets)
        else:
            block_rows = optical.GetRasterBand(self.optical_bands[0]).GetBlockSize()[1]
            opt_reader = BandReader(optical, self.optical_bands, self.offset, native=True,
                                    decoding=self.optical_decoding)
            opt_rows = RowCache(opt_reader, grid.width, grid.height, RowCache.chunk_rows(block_rows),
                                align=self.offset[1], datasets=(optical,))
        sar_warp = WarpedReader(self.sar, self.sar_bands, grid, decoding=self.sar_decoding)
        sar_rows = RowCache(sar_warp, grid.width, grid.height, 256, datasets=sar_warp.datasets)
        return opt_rows, sar_rows
