"""The sample of both inputs that the normalisation statistics are computed from, at a cost that does not grow with
the scene.

A scene of at most STATS_SIZE pixels a side is read whole.  A larger one: STATS_WINDOWS x STATS_WINDOWS windows of
STATS_WINDOW pixels spread over it at full resolution (every STATS_STEP-th pixel), aligned on the optical file's
blocks so that they decode a small share of it (1/16 of a 4096 x 4096 scene), which strips across the whole width
cannot; when those windows hold no pixel valid in both inputs, a decimated read of the whole scene (at most STATS_SIZE
pixels a side, in strips of STATS_ROWS rows, GDAL's cache dropped after each).
"""

import numpy as np

from .grid import footprint, georef
from .readers import BandReader, Decoding
from .warp import warped_vrt

STATS_SIZE = 1024
STATS_WINDOW, STATS_WINDOWS = 256, 4
STATS_STEP = 2  # 262144 pixels in all, as many as 8 strips of the whole-scene read
STATS_ROWS = 32


def statistics_sample(pair):
    """(optical, optical valid, SAR, SAR valid) sampled over ``pair``'s grid (:class:`model.geo.pair.InputPair`)."""
    grid = pair.grid
    scale = max(grid.width, grid.height) / STATS_SIZE
    if scale <= 1:
        return _strip_sample(pair, grid)
    sample = _window_sample(pair)
    if (sample[1] & sample[3]).any():
        return sample
    return _strip_sample(pair, grid.resized(max(1, round(grid.width / scale)), max(1, round(grid.height / scale))))


def window_starts(length, size, count, block, offset):
    """``count`` starts of windows of ``size`` spread evenly over ``length``, each moved back onto a boundary of the
    file's ``block`` grid (the window's pixels then come from as few compressed blocks as possible)."""
    starts = set()
    for k in range(count):
        start = round(k * (length - size) / max(count - 1, 1))
        snapped = (offset + start) // block * block - offset
        starts.add(min(max(snapped if snapped >= 0 else start, 0), length - size))
    return sorted(starts)


def _readers(pair, grid):
    """Readers of the optical window and of the SAR warped onto ``grid`` (both decoded as the pair says), and the
    datasets holding cached blocks."""
    opt_reader = BandReader(pair.optical, pair.optical_bands, pair.offset, decoding=pair.optical_decoding)
    vrt = warped_vrt(pair.sar, pair.sar_bands, grid, fill=pair.sar_decoding.fill)
    n = len(pair.sar_bands)
    sar_reader = BandReader(vrt, range(1, n + 1), alpha=n + 1, decoding=Decoding(db_factor=pair.sar_decoding.db_factor))
    return opt_reader, sar_reader, (vrt, vrt.edc_source, pair.sar)


def _window_sample(pair):
    """Windows spread over a large scene, side by side: (C, h, w * n) and the valid mask for each input."""
    grid = pair.grid
    size_y, size_x = min(STATS_WINDOW, grid.height), min(STATS_WINDOW, grid.width)
    block_x, block_y = pair.optical.GetRasterBand(pair.optical_bands[0]).GetBlockSize()
    ys = window_starts(grid.height, size_y, STATS_WINDOWS, block_y, pair.offset[1])
    xs = window_starts(grid.width, size_x, STATS_WINDOWS, block_x, pair.offset[0])
    opt_reader, sar_reader, sar_datasets = _readers(pair, grid)
    shape = (-(-size_y // STATS_STEP), -(-size_x // STATS_STEP))  # every STATS_STEP-th pixel of a window
    parts = [(opt_reader.read(y, size_y, size_x, x=x, out_shape=shape),
              sar_reader.read(y, size_y, size_x, x=x, out_shape=shape)) for y in ys for x in xs]
    for ds in (pair.optical, *sar_datasets):
        ds.FlushCache()
    opt_parts, sar_parts = zip(*parts)
    return (np.concatenate([p[0] for p in opt_parts], axis=-1), np.concatenate([p[1] for p in opt_parts], axis=-1),
            np.concatenate([p[0] for p in sar_parts], axis=-1), np.concatenate([p[1] for p in sar_parts], axis=-1))


def _strip_sample(pair, small):
    """The whole grid read at the size of ``small`` (the grid itself or a decimated one), strip by strip."""
    strips = [(i, min(i + STATS_ROWS, small.height)) for i in range(0, small.height, STATS_ROWS)]
    opt_reader, sar_reader, sar_datasets = _readers(pair, small)
    opt, opt_valid = _strip_read(opt_reader, pair.grid, small, (pair.optical,), strips)
    sar, sar_valid = _strip_read(sar_reader, small, small, sar_datasets, strips)
    return opt, opt_valid, sar, sar_valid


def _strip_read(reader, grid, small, datasets, strips):
    """``reader``'s window ``grid`` resampled to ``small``'s size, only the output row ranges ``strips`` (stacked);
    GDAL's cached blocks are dropped after each strip, so that a read over a large scene does not fill GDAL's cache."""
    parts = []
    for i, j in strips:
        y0, y1 = round(i * grid.height / small.height), round(j * grid.height / small.height)
        parts.append(reader.read(y0, y1 - y0, grid.width, out_shape=(j - i, small.width)))
        for ds in datasets:
            ds.FlushCache()
    return np.concatenate([p[0] for p in parts], axis=1), np.concatenate([p[1] for p in parts], axis=0)


def native_sample(ds, bands, grid):
    """(data (C, h, w), valid (h, w)): the bands of ``ds`` where they cover ``grid``, on their own pixels and in their
    stored type: the whole window when it is at most STATS_SIZE pixels a side, else
    STATS_WINDOWS x STATS_WINDOWS windows of STATS_WINDOW pixels side by side (every STATS_STEP-th pixel).  ``valid``:
    the bands' GDAL masks only."""
    x0, y0, width, height = _pixel_window(ds, grid)
    reader = BandReader(ds, bands, (x0, y0), native=True)
    if max(width, height) <= STATS_SIZE:
        parts = [reader.read(0, height, width)]
    else:
        size_y, size_x = min(STATS_WINDOW, height), min(STATS_WINDOW, width)
        shape = (-(-size_y // STATS_STEP), -(-size_x // STATS_STEP))
        block_x, block_y = ds.GetRasterBand(bands[0]).GetBlockSize()
        parts = [reader.read(y, size_y, size_x, x=x, out_shape=shape)
                 for y in window_starts(height, size_y, STATS_WINDOWS, block_y, y0)
                 for x in window_starts(width, size_x, STATS_WINDOWS, block_x, x0)]
    ds.FlushCache()
    return np.concatenate([p[0] for p in parts], axis=-1), np.concatenate([p[1] for p in parts], axis=-1)


def _pixel_window(ds, grid):
    """(x0, y0, width, height): the pixels of ``ds`` that cover ``grid`` (whole raster where it cannot tell)."""
    gt, wkt = georef(ds, "input")
    foot = footprint(grid.geotransform, grid.wkt, (grid.width, grid.height), wkt if grid.wkt else "")
    if foot is None:
        return 0, 0, ds.RasterXSize, ds.RasterYSize
    cols = sorted(((foot[0] - gt[0]) / gt[1], (foot[2] - gt[0]) / gt[1]))
    rows = sorted(((foot[1] - gt[3]) / gt[5], (foot[3] - gt[3]) / gt[5]))
    x0, x1 = max(int(np.floor(cols[0])), 0), min(int(np.ceil(cols[1])), ds.RasterXSize)
    y0, y1 = max(int(np.floor(rows[0])), 0), min(int(np.ceil(rows[1])), ds.RasterYSize)
    if x1 <= x0 or y1 <= y0:
        return 0, 0, ds.RasterXSize, ds.RasterYSize
    return x0, y0, x1 - x0, y1 - y0
