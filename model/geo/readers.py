"""Reading windows of the inputs on the output grid, with their validity masks.

- :class:`Decoding`: what raw values mean: undeclared fill values (no data), units to convert to decibels.
- :class:`BandReader`: selected bands of a dataset with a validity mask (band masks, coverage, finite values, fill).
- :class:`WarpedReader`: bands warped onto the output grid window by window, in memory.
- :class:`RowCache`: the rows around the current read, each chunk of rows read once (tiled inference moves down).
"""

from dataclasses import dataclass

import numpy as np

from .warp import band_subset, resampling_for, warp


@dataclass(frozen=True)
class Decoding:
    """How the raw values of an input's selected bands become the values the model sees.

    ``fill``: per band, a value that marks missing data although the file does not declare it (None: none).
    ``joint_fill``: a value that marks missing data where every band holds it (optical rasters; None: none).
    ``db_factor``: 10 (linear power) or 20 (amplitude, or complex values) to convert to decibels,
    ``factor * log10(value)``; None keeps the values.  Non-positive values have no decibels: they become invalid."""
    fill: tuple = ()
    db_factor: float = None
    joint_fill: float = None

    def fill_of(self, i):
        return self.fill[i] if i < len(self.fill) else None


RAW = Decoding()


class WarpedReader:
    """Reads windows of the SAR bands ``bands`` warped onto ``grid``, each window warped at once into memory (on
    ``threads`` threads, all the cores by default), with the validity mask of :class:`BandReader` (coverage, band
    masks, finite values).

    For reads of whole rows of chunks (:class:`RowCache`): one warp per window costs a fraction of reading the same
    rows through a warped VRT, which warps them block by block.  ``datasets``: what holds GDAL's cached source blocks
    (to be dropped after each chunk)."""

    def __init__(self, sar, bands, grid, resampling=None, threads="ALL_CPUS", decoding=RAW, label="SAR"):
        # fill values become the source's nodata, so that the warper leaves them out of every interpolation; a joint
        # fill value only where every band holds it
        joint = decoding.joint_fill is not None
        self.source = band_subset(sar, bands, (decoding.joint_fill,) * len(bands) if joint else decoding.fill)
        self.warp_options = ["UNIFIED_SRC_NODATA=YES"] if joint else []
        self.resampling = resampling or resampling_for(sar, grid)
        self.grid, self.bands, self.threads = grid, len(bands), str(threads)
        self.db_factor, self.label = decoding.db_factor, label
        self.datasets = (self.source, sar)

    def read(self, y, height, width, x=0, out_shape=None):
        window = self.grid.window(x, y, width, height)
        options = dict(multithread=True, warpOptions=[f"NUM_THREADS={self.threads}", *self.warp_options]) \
            if self.threads != "1" else dict(warpOptions=self.warp_options)
        mem = warp(self.source, window, self.resampling, "MEM", label=self.label, **options)
        reader = BandReader(mem, range(1, self.bands + 1), alpha=self.bands + 1, native=True,
                            decoding=Decoding(db_factor=self.db_factor))
        return reader.read(0, height, width, out_shape=out_shape)


class BandReader:
    """Reads selected bands of a dataset (on a pixel window) with a validity mask: every selected band's GDAL mask
    (nodata value, alpha band or internal mask), the optional coverage ``alpha`` band, finite values, and the
    ``decoding``'s fill values; values are converted to decibels where the decoding says so."""

    def __init__(self, ds, bands, offset=(0, 0), alpha=None, native=False, decoding=RAW):
        self.ds, self.bands, self.offset, self.alpha = ds, list(bands), offset, alpha
        self.decoding = decoding
        from osgeo import gdal_array
        types = [np.dtype(gdal_array.GDALTypeCodeToNumericTypeCode(ds.GetRasterBand(b).DataType)) for b in self.bands]
        # integer bands are always finite: no need to look for NaN or infinity there
        self.floating = any(t.kind in "fc" for t in types) or decoding.db_factor is not None
        # float32, or with ``native`` the bands' own type (half the memory of float32 for 16-bit data)
        keep = native and decoding.db_factor is None and all(t.kind in "uif" for t in types)
        self.dtype = np.result_type(*types) if keep else np.dtype(np.float32)

    def read(self, y, height, width, x=0, out_shape=None):
        """Rows ``y .. y + height``, columns ``x .. x + width`` of the window -> (data (C, h, w), valid (h, w))."""
        xoff, yoff = self.offset[0] + x, self.offset[1] + y
        bh, bw = out_shape or (height, width)
        data = np.empty((len(self.bands), bh, bw), self.dtype)
        valid = np.ones((bh, bw), bool)
        for i, b in enumerate(self.bands):
            band = self.ds.GetRasterBand(b)
            data[i] = band.ReadAsArray(xoff, yoff, width, height, buf_xsize=bw, buf_ysize=bh)
            if band.GetMaskFlags() != 1:  # 1 = GMF_ALL_VALID
                valid &= band.GetMaskBand().ReadAsArray(xoff, yoff, width, height, buf_xsize=bw, buf_ysize=bh) > 0
        if self.alpha is not None:
            valid &= self.ds.GetRasterBand(self.alpha).ReadAsArray(xoff, yoff, width, height, buf_xsize=bw,
                                                                   buf_ysize=bh) > 0
        for i in range(len(self.bands)):
            fill = self.decoding.fill_of(i)
            if fill is not None:
                valid &= data[i] != fill
        if self.decoding.joint_fill is not None:
            valid &= (data != self.decoding.joint_fill).any(axis=0)
        if self.decoding.db_factor is not None:
            to_decibels(data, self.decoding.db_factor)
        if self.floating:
            valid &= np.isfinite(data).all(axis=0)
        return data, valid


def to_decibels(data, factor):
    """``factor * log10(data)`` in place (float32); non-positive values become NaN or -inf (invalid)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        np.log10(data, out=data)
    data *= factor
    return data


class RowCache:
    """The rows of a :class:`BandReader`'s window around the current read, for reads that move down the raster (as
    tiled inference does: one row of tiles after another, each overlapping the one above).

    Rows are read in chunks of whole rows of the file's blocks, full width, once each: every compressed block is
    decoded and every warped block computed exactly once, and GDAL's cached copies (of ``datasets``) are dropped after
    each chunk, so GDAL's cache does not grow with the scene.  Chunks wholly above the last read are dropped: what is
    held is at most the read's height plus one chunk of rows, full width, so memory grows with the scene's width, not
    its height.  ``read`` returns a view of one chunk
    (or a copy where the window spans two); chunks are never modified, so a caller may keep what it got.
    """

    def __init__(self, reader, width, height, chunk, align=0, datasets=()):
        self.reader, self.width, self.height = reader, width, height
        self.chunk, self.align = max(1, int(chunk)), int(align)
        self.datasets = tuple(datasets)
        self.start = self.end = 0
        self.chunks = []  # (first row, data (C, rows, width), valid (rows, width)), top to bottom

    @staticmethod
    def chunk_rows(block_rows, minimum=128, maximum=1024):
        """Chunk height: whole rows of blocks, at least ``minimum`` rows where blocks are short (strips, scanlines),
        ``minimum`` where one block row is taller than ``maximum`` (whole-image blocks)."""
        block_rows = max(1, int(block_rows))
        if block_rows > maximum:
            return minimum
        return -(-minimum // block_rows) * block_rows

    def _boundary_after(self, row):
        return min(self.height, ((row + self.align) // self.chunk + 1) * self.chunk - self.align)

    def read(self, y, height, x, width):
        """Rows ``y .. y + height``, columns ``x .. x + width`` -> (data (C, h, w), valid (h, w))."""
        if y < self.start:
            raise ValueError(f"RowCache reads move down the raster: row {y} is above row {self.start}")
        self.start = y
        self.chunks = [c for c in self.chunks if c[0] + c[2].shape[0] > y]
        if not self.chunks:  # first read, or a jump past everything held
            self.end = max(self.end, ((y + self.align) // self.chunk) * self.chunk - self.align, 0)
        while self.end < min(y + height, self.height):
            stop = self._boundary_after(self.end)
            data, valid = self.reader.read(self.end, stop - self.end, self.width)
            for ds in self.datasets:
                ds.FlushCache()
            self.chunks.append((self.end, data, valid))
            self.end = stop
        pieces = [(data[:, max(y - c0, 0):y + height - c0, x:x + width], valid[max(y - c0, 0):y + height - c0,
                                                                              x:x + width])
                  for c0, data, valid in self.chunks if c0 < y + height]
        if len(pieces) == 1:
            return pieces[0]
        return np.concatenate([p[0] for p in pieces], axis=1), np.concatenate([p[1] for p in pieces], axis=0)

