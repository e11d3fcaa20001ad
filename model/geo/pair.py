"""The two inputs of one run on the output grid: readers for the tiles and the sample for the statistics."""

from .readers import BandReader, RowCache, WarpedReader
from .sampling import statistics_sample


class InputPair:
    """The selected optical bands (a window at ``offset`` of the optical raster) and SAR bands of one run, both on
    the output ``grid``."""

    def __init__(self, optical, optical_bands, sar, sar_bands, grid, offset):
        self.optical, self.optical_bands, self.offset = optical, list(optical_bands), offset
        self.sar, self.sar_bands, self.grid = sar, list(sar_bands), grid

    def statistics_sample(self):
        """(optical, optical valid, SAR, SAR valid): a sample of the whole grid for the normalisation statistics,
        whose cost does not grow with the scene (see :mod:`model.geo.sampling`)."""
        return statistics_sample(self)

    def row_readers(self):
        """(optical, SAR) :class:`RowCache` readers for tiles moving down the grid: the optical rows in the bands' own
        type (UInt16: half the memory of float32), the SAR warped chunk by chunk."""
        optical, grid = self.optical, self.grid
        block_rows = optical.GetRasterBand(self.optical_bands[0]).GetBlockSize()[1]
        opt_rows = RowCache(BandReader(optical, self.optical_bands, self.offset, native=True), grid.width,
                            grid.height, RowCache.chunk_rows(block_rows), align=self.offset[1], datasets=(optical,))
        sar_warp = WarpedReader(self.sar, self.sar_bands, grid)
        sar_rows = RowCache(sar_warp, grid.width, grid.height, 256, datasets=sar_warp.datasets)
        return opt_rows, sar_rows
