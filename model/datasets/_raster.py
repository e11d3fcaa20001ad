"""Small GDAL helpers for the GeoTIFF readers: read a raster, or resample it onto another raster's grid."""

import numpy as np

from ..errors import EDCDatasetError, EDCDependencyError


def _gdal():
    try:
        from osgeo import gdal
    except ImportError:  # pragma: no cover - GDAL ships with QGIS
        raise EDCDependencyError("GDAL (osgeo) is needed to read GeoTIFF datasets; install GDAL or run in QGIS.")
    gdal.UseExceptions()
    return gdal


def open_raster(path):
    gdal = _gdal()
    try:
        ds = gdal.Open(str(path))
    except RuntimeError as exc:
        raise EDCDatasetError(f"Cannot read raster '{path}': {exc}") from None
    if ds is None:
        raise EDCDatasetError(f"Cannot read raster '{path}'.")
    return ds


def read(path, dtype=np.float32):
    """All bands of a raster as (C, H, W)."""
    ds = open_raster(path)
    return ds.ReadAsArray().astype(dtype).reshape(ds.RasterCount, ds.RasterYSize, ds.RasterXSize)


def read_on_grid(path, reference, resampling="bilinear", dtype=np.float32):
    """Read ``path`` resampled onto the pixel grid of raster ``reference`` (same extent, size and CRS).

    Returns (C, H, W).  Rasters already on that grid are read as they are.
    """
    gdal = _gdal()
    src, ref = open_raster(path), open_raster(reference)
    same = (src.RasterXSize, src.RasterYSize) == (ref.RasterXSize, ref.RasterYSize) and \
        np.allclose(src.GetGeoTransform(), ref.GetGeoTransform())
    if same:
        out = src
    else:
        gt = ref.GetGeoTransform()
        xmin, ymax = gt[0], gt[3]
        xmax, ymin = xmin + gt[1] * ref.RasterXSize, ymax + gt[5] * ref.RasterYSize
        has_crs = bool(src.GetProjection()) and bool(ref.GetProjection())
        if not has_crs and src.GetGeoTransform() == (0, 1, 0, 0, 0, 1):
            raise EDCDatasetError(f"Raster '{path}' has another size than '{reference}' and no georeferencing; "
                                  "cannot put it on the same grid.")
        try:
            out = gdal.Warp("", src, format="MEM", outputBounds=(xmin, min(ymin, ymax), xmax, max(ymin, ymax)),
                            width=ref.RasterXSize, height=ref.RasterYSize, resampleAlg=resampling,
                            dstSRS=ref.GetProjection() or None)
        except RuntimeError as exc:
            raise EDCDatasetError(f"Cannot resample '{path}' onto the grid of '{reference}': {exc}") from None
    return out.ReadAsArray().astype(dtype).reshape(-1, ref.RasterYSize, ref.RasterXSize)


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
