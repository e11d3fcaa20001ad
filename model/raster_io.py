"""GDAL raster access for the pipeline: opening inputs, the common output grid, reading bands with their validity
mask, the SAR raster warped on the fly onto the optical grid (never a copy on disk: a virtual warped VRT for small
reads, chunk by chunk into memory for the tiles), and the rows around the current row of tiles (``RowCache``).
"""

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import EDCDependencyError, EDCInputError


def gdal_modules():
    try:
        from osgeo import gdal, osr
    except ImportError:  # pragma: no cover - GDAL ships with QGIS
        raise EDCDependencyError("GDAL's Python bindings (osgeo) are missing; install python3-gdal "
                                 "(apt install python3-gdal) or run inside QGIS.") from None
    gdal.UseExceptions()
    return gdal, osr


def open_raster(path, label):
    """Open ``path`` (a file or any GDAL dataset name) read-only; EDCInputError naming the ``label`` input."""
    gdal, _ = gdal_modules()
    reason = "unknown format"
    previous = gdal.GetThreadLocalConfigOption("GDAL_NUM_THREADS", None)
    # GeoTIFF: decode the compressed blocks of one read on all cores (reads happen between the network's passes)
    gdal.SetThreadLocalConfigOption("GDAL_NUM_THREADS", previous or "ALL_CPUS")
    try:
        ds = gdal.Open(str(path)) if path else None
    except RuntimeError as exc:
        ds, reason = None, " ".join(str(exc).split())[:200]
    finally:
        gdal.SetThreadLocalConfigOption("GDAL_NUM_THREADS", previous)
    if ds is None:
        if not path or not Path(str(path)).exists() and Path(str(path)).suffix:
            raise EDCInputError(f"The {label} raster '{path}' does not exist; choose an existing raster file.")
        raise EDCInputError(f"The {label} raster '{path}' cannot be read by GDAL ({reason}); choose a raster file "
                            "such as a GeoTIFF.")
    if ds.RasterCount == 0:
        raise EDCInputError(f"The {label} raster '{path}' has no raster bands; choose a raster file.")
    return ds


def select_bands(ds, bands, names, label):
    """Validate a list of 1-based band numbers for ``ds`` against the band names the weights expect."""
    count = ds.RasterCount
    need = len(names)
    if count < need:
        article = "an" if label[0] in "aeiouAEIOU" else "a"
        raise EDCInputError(f"The {label} raster has {count} band{'s' if count != 1 else ''} but the weights need "
                            f"{need} ({', '.join(names)}); choose {article} {label} raster with these bands or "
                            f"weights trained for {count} {label} band{'s' if count != 1 else ''}.")
    bands = list(bands)
    if len(bands) != need:
        raise EDCInputError(f"{len(bands)} {label} band{'s were' if len(bands) != 1 else ' was'} selected but the "
                            f"weights need exactly {need} ({', '.join(names)}, in this order); select {need}.")
    bad = [b for b in bands if not 1 <= int(b) <= count]
    if bad:
        raise EDCInputError(f"{label.capitalize()} band {bad[0]} does not exist: the {label} raster has bands 1 to "
                            f"{count}; choose bands in that range.")
    return [int(b) for b in bands]


@dataclass
class Grid:
    """A north-up pixel grid: geotransform, CRS (WKT, may be empty), size."""
    geotransform: tuple
    wkt: str
    width: int
    height: int

    @property
    def bounds(self):
        x0, dx, _, y0, _, dy = self.geotransform
        xs, ys = (x0, x0 + dx * self.width), (y0, y0 + dy * self.height)
        return min(xs), min(ys), max(xs), max(ys)

    @property
    def pixel_area(self):
        gt = self.geotransform
        return abs(gt[1] * gt[5] - gt[2] * gt[4])


def _georef(ds, label):
    """(geotransform, wkt) of ``ds``; ungeoreferenced rasters get a pixel grid (y up to 0, 1 unit per pixel)."""
    gt = ds.GetGeoTransform(can_return_null=True)
    if gt is None:
        return (0.0, 1.0, 0.0, 0.0, 0.0, -1.0), ""
    if gt[2] or gt[4] or gt[5] > 0:
        raise EDCInputError(f"The {label} raster is rotated or south-up; warp it to a north-up grid first "
                            "(Raster > Projections > Warp).")
    return tuple(gt), ds.GetProjection() or ""


def _footprint(ds_gt, ds_wkt, size, target_wkt):
    """Bounding box of a raster's footprint in ``target_wkt`` (edges densified)."""
    w, h = size
    t = np.linspace(0.0, 1.0, 21)
    cols = np.concatenate([t * w, np.full_like(t, w), t[::-1] * w, np.zeros_like(t)])
    rows = np.concatenate([np.zeros_like(t), t * h, np.full_like(t, h), t[::-1] * h])
    x = ds_gt[0] + cols * ds_gt[1]
    y = ds_gt[3] + rows * ds_gt[5]
    if ds_wkt and target_wkt:
        _, osr = gdal_modules()
        src, dst = osr.SpatialReference(), osr.SpatialReference()
        src.ImportFromWkt(ds_wkt)
        dst.ImportFromWkt(target_wkt)
        if not src.IsSame(dst):
            for s in (src, dst):
                s.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
            pts = np.array(osr.CoordinateTransformation(src, dst).TransformPoints(np.c_[x, y].tolist()))
            ok = np.isfinite(pts[:, :2]).all(axis=1)
            if not ok.any():
                return None
            x, y = pts[ok, 0], pts[ok, 1]
    return x.min(), y.min(), x.max(), y.max()


def output_grid(optical, sar, extent=None):
    """The output grid: the optical grid cropped to ``extent`` (optical CRS) and to the SAR footprint."""
    opt_gt, opt_wkt = _georef(optical, "optical")
    sar_gt, sar_wkt = _georef(sar, "SAR")
    if bool(opt_wkt) != bool(sar_wkt):
        which = "optical" if not opt_wkt else "SAR"
        raise EDCInputError(f"The {which} raster has no coordinate reference system while the other has one; assign "
                            f"its CRS (Raster > Projections > Assign Projection) so the two can be overlaid.")
    full = Grid(opt_gt, opt_wkt, optical.RasterXSize, optical.RasterYSize)
    xmin, ymin, xmax, ymax = full.bounds
    if extent is not None:
        try:
            exmin, eymin, exmax, eymax = (float(v) for v in extent)
        except (TypeError, ValueError):
            raise EDCInputError("The processing extent must be four numbers xmin, ymin, xmax, ymax.") from None
        if not all(map(math.isfinite, (exmin, eymin, exmax, eymax))) or exmax <= exmin or eymax <= eymin:
            raise EDCInputError(f"The processing extent ({exmin}, {eymin}, {exmax}, {eymax}) has zero or negative "
                                "size; draw an extent with a width and a height, or leave it empty.")
        if exmin >= xmax or exmax <= xmin or eymin >= ymax or eymax <= ymin:
            raise EDCInputError("The processing extent does not overlap the optical raster; choose an extent inside "
                                "the optical raster (in its CRS) or leave it empty.")
        xmin, ymin, xmax, ymax = max(xmin, exmin), max(ymin, eymin), min(xmax, exmax), min(ymax, eymax)
    foot = _footprint(sar_gt, sar_wkt, (sar.RasterXSize, sar.RasterYSize), opt_wkt)
    if foot is None or foot[0] >= xmax or foot[2] <= xmin or foot[1] >= ymax or foot[3] <= ymin:
        raise EDCInputError("The optical and SAR rasters do not overlap" + (" inside the processing extent"
                            if extent is not None else "") + "; choose a SAR raster covering the same area.")
    xmin, ymin, xmax, ymax = max(xmin, foot[0]), max(ymin, foot[1]), min(xmax, foot[2]), min(ymax, foot[3])
    x0, dx, _, y0, _, dy = opt_gt
    cols = sorted(((xmin - x0) / dx, (xmax - x0) / dx))
    rows = sorted(((ymin - y0) / dy, (ymax - y0) / dy))
    eps = 1e-6
    c0, c1 = max(int(math.floor(cols[0] + eps)), 0), min(int(math.ceil(cols[1] - eps)), full.width)
    r0, r1 = max(int(math.floor(rows[0] + eps)), 0), min(int(math.ceil(rows[1] - eps)), full.height)
    if c1 <= c0 or r1 <= r0:
        raise EDCInputError("The overlap of the optical raster, the SAR raster and the processing extent is smaller "
                            "than one optical pixel; choose overlapping inputs or a larger extent.")
    gt = (x0 + c0 * dx, dx, 0.0, y0 + r0 * dy, 0.0, dy)
    return Grid(gt, opt_wkt, c1 - c0, r1 - r0), (c0, r0)


def _warp_source(sar, bands, grid, resampling=None):
    """The SAR bands ``bands`` as a VRT (georeferenced: a raster without one gets a pixel grid) and the resampling
    for ``grid``: average where SAR pixels are much smaller than the grid's, bilinear otherwise."""
    gdal, _ = gdal_modules()
    src = gdal.Translate("", sar, format="VRT", bandList=bands)
    if sar.GetGeoTransform(can_return_null=True) is None:
        src.SetGeoTransform((0.0, 1.0, 0.0, 0.0, 0.0, -1.0))
    if resampling is None:
        foot = _footprint(_georef(sar, "SAR")[0], sar.GetProjection() if grid.wkt else "",
                          (sar.RasterXSize, sar.RasterYSize), grid.wkt)
        sar_pixel = (foot[2] - foot[0]) / sar.RasterXSize
        resampling = "average" if sar_pixel < abs(grid.geotransform[1]) / 2 else "bilinear"
    return src, resampling


def _warp(src, grid, resampling, fmt, **options):
    gdal, _ = gdal_modules()
    xmin, ymin, xmax, ymax = grid.bounds
    try:
        return gdal.Warp("", src, format=fmt, dstSRS=grid.wkt or None, outputBounds=(xmin, ymin, xmax, ymax),
                         width=grid.width, height=grid.height, resampleAlg=resampling, dstAlpha=True, **options)
    except RuntimeError as exc:
        raise EDCInputError(f"The SAR raster cannot be reprojected onto the optical raster's grid ({exc}); check "
                            "its coordinate reference system.") from None


def warped_vrt(sar, bands, grid, resampling=None):
    """The SAR bands ``bands`` warped onto ``grid`` as a virtual dataset; its last band is the alpha (coverage)."""
    src, resampling = _warp_source(sar, bands, grid, resampling)
    vrt = _warp(src, grid, resampling, "VRT", multithread=False)
    vrt._edc_source = src  # keep the band subset alive as long as the warped view
    return vrt


class WarpedReader:
    """Reads windows of the SAR bands ``bands`` warped onto ``grid``, each window warped at once into memory (on
    ``threads`` threads, all the cores by default), with the validity mask of :class:`BandReader` (coverage, band
    masks, finite values).

    For reads of whole rows of chunks (:class:`RowCache`): one warp per window costs a fraction of reading the same
    rows through a warped VRT, which warps them block by block.  ``datasets``: what holds GDAL's cached source blocks
    (to be dropped after each chunk)."""

    def __init__(self, sar, bands, grid, resampling=None, threads="ALL_CPUS"):
        self.source, self.resampling = _warp_source(sar, bands, grid, resampling)
        self.grid, self.bands, self.threads = grid, len(bands), str(threads)
        self.datasets = (self.source, sar)

    def read(self, y, height, width, x=0, out_shape=None):
        x0, dx, _, y0, _, dy = self.grid.geotransform
        window = Grid((x0 + x * dx, dx, 0.0, y0 + y * dy, 0.0, dy), self.grid.wkt, width, height)
        options = dict(multithread=True, warpOptions=[f"NUM_THREADS={self.threads}"]) if self.threads != "1" else {}
        mem = _warp(self.source, window, self.resampling, "MEM", **options)
        return BandReader(mem, range(1, self.bands + 1), alpha=self.bands + 1, native=True).read(
            0, height, width, out_shape=out_shape)


class BandReader:
    """Reads selected bands of a dataset (on a pixel window) with a validity mask: every selected band's GDAL mask
    (nodata value, alpha band or internal mask), the optional coverage ``alpha`` band, and finite values."""

    def __init__(self, ds, bands, offset=(0, 0), alpha=None, native=False):
        self.ds, self.bands, self.offset, self.alpha = ds, list(bands), offset, alpha
        from osgeo import gdal_array
        types = [np.dtype(gdal_array.GDALTypeCodeToNumericTypeCode(ds.GetRasterBand(b).DataType)) for b in self.bands]
        # integer bands are always finite: no need to look for NaN or infinity there
        self.floating = any(t.kind in "fc" for t in types)
        # float32, or with ``native`` the bands' own type (half the memory of float32 for 16-bit data)
        self.dtype = np.result_type(*types) if native and all(t.kind in "uif" for t in types) else np.dtype(np.float32)

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
        if self.floating:
            valid &= np.isfinite(data).all(axis=0)
        return data, valid


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
