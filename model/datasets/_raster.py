"""GeoTIFF access for the readers, on top of ``model.geo``: a raster as it is, or put onto another raster's grid by
the resampling rule of inference (``geo.warp.resampling_for``: nearest for class values, average or bilinear for
continuous ones).  Every error is an EDCDatasetError naming the file."""

import numpy as np

from ..errors import EDCDatasetError, EDCInputError


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


def read_on_grid(path, reference, categorical=False, dtype=np.float32):
    """Read ``path`` put onto the pixel grid of raster ``reference`` (same extent, size and CRS): class values
    (``categorical``) by the nearest pixel, continuous ones by the inference rule.  Returns (C, H, W); rasters
    already on that grid are read as they are."""
    from ..geo.warp import band_subset, resampling_for, warp
    src, ref = open_raster(path), open_raster(reference)
    if (src.RasterXSize, src.RasterYSize) == (ref.RasterXSize, ref.RasterYSize) and \
            np.allclose(src.GetGeoTransform(), ref.GetGeoTransform()):
        return read(path, dtype)
    if not (src.GetProjection() and ref.GetProjection()) and src.GetGeoTransform(can_return_null=True) is None:
        raise EDCDatasetError(f"Raster '{path}' has another size than '{reference}' and no georeferencing; "
                              "cannot put it on the same grid.")
    grid = _grid_of(ref)
    try:
        resampling = resampling_for(src, grid, categorical=categorical)
        out = warp(band_subset(src, range(1, src.RasterCount + 1)), grid, resampling, "MEM", label=str(path))
    except EDCInputError as exc:
        raise EDCDatasetError(f"Cannot resample '{path}' onto the grid of '{reference}': {exc}") from None
    data = out.ReadAsArray().reshape(out.RasterCount, grid.height, grid.width)
    return data[:-1].astype(dtype)     # the last band is warp's coverage (alpha)


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
