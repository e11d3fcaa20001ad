"""GeoTIFF access for the readers, on top of ``model.geo``: a raster as it is, or put onto another raster's grid by
the resampling rule of inference (``geo.warp.resampling_for``: nearest for class values, average or bilinear for
continuous ones).  Every error is an EDCDatasetError naming the file.

Input rasters (optical, SAR) are read with the validity rule of inference (``geo.readers.BandReader``): a pixel has
no data where a band's GDAL mask says nodata, where a raster put onto another grid has no coverage (warp's alpha
band is 0) or where a value is not finite; :func:`read_valid` returns such pixels as NaN.  Labels are read by
:func:`read_labels`, which checks that the values are whole numbers and gives uncovered pixels the ignore value."""

import numpy as np

from ..errors import EDCDatasetError, EDCInputError
from ..vocabulary import DEFAULT_GSD_M, IGNORE_LABEL


def open_raster(path):
    from ..geo.rasters import open_raster as geo_open
    return geo_open(path, "dataset", error=EDCDatasetError)


def read(path, dtype=np.float32):
    """All bands of a raster as (C, H, W)."""
    ds = open_raster(path)
    return ds.ReadAsArray().astype(dtype).reshape(ds.RasterCount, ds.RasterYSize, ds.RasterXSize)


def _grid_of(ds):
    from ..geo.grid import Grid
    return Grid(tuple(ds.GetGeoTransform()), ds.GetProjection() or "", ds.RasterXSize, ds.RasterYSize)


def _same_grid(src, ref):
    return (src.RasterXSize, src.RasterYSize) == (ref.RasterXSize, ref.RasterYSize) and \
        np.allclose(src.GetGeoTransform(), ref.GetGeoTransform())


def _warped(path, src, reference, ref, categorical, **options):
    """``src`` warped onto the grid of ``ref`` as a MEM dataset whose last band is the coverage (alpha)."""
    from ..geo.warp import band_subset, resampling_for, warp
    if not (src.GetProjection() and ref.GetProjection()) and src.GetGeoTransform(can_return_null=True) is None:
        raise EDCDatasetError(f"Raster '{path}' has another size than '{reference}' and no georeferencing; "
                              "cannot put it on the same grid.")
    grid = _grid_of(ref)
    try:
        resampling = resampling_for(src, grid, categorical=categorical)
        return warp(band_subset(src, range(1, src.RasterCount + 1)), grid, resampling, "MEM", label=str(path),
                    **options)
    except EDCInputError as exc:
        raise EDCDatasetError(f"Cannot resample '{path}' onto the grid of '{reference}': {exc}") from None


def read_on_grid(path, reference, categorical=False, dtype=np.float32):
    """Read ``path`` put onto the pixel grid of raster ``reference`` (same extent, size and CRS): class values
    (``categorical``) by the nearest pixel, continuous ones by the inference rule.  Returns (C, H, W); rasters
    already on that grid are read as they are.  Pixels the raster does not cover are 0 (see :func:`read_valid`)."""
    src, ref = open_raster(path), open_raster(reference)
    if _same_grid(src, ref):
        return read(path, dtype)
    out = _warped(path, src, reference, ref, categorical)
    data = out.ReadAsArray().reshape(out.RasterCount, ref.RasterYSize, ref.RasterXSize)
    return data[:-1].astype(dtype)     # the last band is warp's coverage (alpha)


def read_valid(path, reference=None, bands=None):
    """Bands ``bands`` (1-based, default all) of ``path`` as float32 (C, H, W), put onto the grid of ``reference``
    (when given and different) by the inference rule, with NaN where the raster has no data by the validity rule of
    inference: a band's GDAL mask (nodata value, alpha, internal mask), no coverage after warping, non-finite."""
    from ..geo.readers import BandReader
    src = open_raster(path)
    bands = list(bands or range(1, src.RasterCount + 1))
    ref = open_raster(reference) if reference is not None else src
    if _same_grid(src, ref):
        reader = BandReader(src, bands)
    else:
        out = _warped(path, src, reference, ref, categorical=False)
        reader = BandReader(out, bands, alpha=out.RasterCount)
    data, valid = reader.read(0, ref.RasterYSize, ref.RasterXSize)
    data = data.astype(np.float32, copy=False)
    if not valid.all():
        data[:, ~valid] = np.nan
    return data


def _non_integral(values, path):
    """EDCDatasetError for a label raster whose values are not whole numbers (NaN, fractions, infinities)."""
    if np.isnan(values).any():
        return EDCDatasetError(f"Label raster '{path}' holds NaN values (NaN used as nodata?). Labels must be whole "
                               f"class numbers, and label pixels without a class must be {IGNORE_LABEL}: write "
                               f"{IGNORE_LABEL} there (and declare nodata = {IGNORE_LABEL}), e.g. with "
                               f"gdal_calc.py --calc \"where(isnan(A), {IGNORE_LABEL}, A)\" --type Byte.")
    odd = values[~np.isfinite(values) | (values != np.round(values))]
    shown = ", ".join(f"{v:g}" for v in np.unique(odd)[:6])
    return EDCDatasetError(f"Label raster '{path}' holds values that are not whole class numbers ({shown}; "
                           f"{odd.size} pixels); labels must be class numbers 0..K-1 ({IGNORE_LABEL} = no label), "
                           "not fractions or probabilities. Round or threshold them into classes and write them as "
                           "an integer raster (e.g. Byte).")


def read_labels(path, reference):
    """Band 1 of the label raster ``path`` as int64 (H, W) on the grid of ``reference`` (nearest pixel), with
    ``IGNORE_LABEL`` where it does not cover that grid.  EDCDatasetError naming the file when a value is not a
    whole number (fractions, NaN): such values must never be truncated into classes."""
    src, ref = open_raster(path), open_raster(reference)
    raw = src.GetRasterBand(1).ReadAsArray()
    if raw.dtype.kind in "fc" and (raw.dtype.kind == "c" or not (np.isfinite(raw).all() and
                                                                 (raw == np.round(raw)).all())):
        raise _non_integral(np.real(raw).astype(np.float64), path)
    if _same_grid(src, ref):
        return raw.astype(np.int64)
    # label values are taken as they are (a declared nodata value is not coverage): alpha is the footprint only
    out = _warped(path, src, reference, ref, categorical=True, srcNodata="None")
    label = out.GetRasterBand(1).ReadAsArray().astype(np.int64)
    label[out.GetRasterBand(out.RasterCount).ReadAsArray() == 0] = IGNORE_LABEL
    return label


def nodata_mask(path):
    """True where any band of the raster equals its nodata value."""
    ds = open_raster(path)
    data = ds.ReadAsArray().reshape(ds.RasterCount, ds.RasterYSize, ds.RasterXSize)
    mask = np.zeros(data.shape[1:], bool)
    for b in range(ds.RasterCount):
        nd = ds.GetRasterBand(b + 1).GetNoDataValue()
        if nd is not None:
            mask |= data[b] == nd
    return mask


def ground_sampling_distance(path, default=DEFAULT_GSD_M):
    """The pixel size of raster ``path`` in metres (geometric mean of x and y; degrees at its latitude), or
    ``default`` where it has no CRS."""
    from ..geo.grid import Grid, georef
    from ..geo.resolution import pixel_size_m
    ds = open_raster(path)
    gt, wkt = georef(ds, "dataset")
    size = pixel_size_m(Grid(gt, wkt, ds.RasterXSize, ds.RasterYSize))
    return default if size is None else float((size[0] * size[1]) ** 0.5)
