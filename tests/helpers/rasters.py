"""The one GeoTIFF writer of the test suite, and the synthetic optical + SAR pairs built with it."""

from pathlib import Path

import numpy as np

UTM_GT = (500000.0, 10.0, 0.0, 4600000.0, 0.0, -10.0)


def write_raster(path, array, geotransform=UTM_GT, epsg=32633, nodata=None, dtype=None, pixel=None):
    """Write ``array`` (C, H, W) or (H, W) as a GeoTIFF and return the path.  ``epsg=None`` writes no CRS,
    ``geotransform=None`` none; ``pixel`` replaces the geotransform's pixel size (square pixels); ``dtype`` a GDAL
    type code to write the values as; the folder is created."""
    from osgeo import gdal, gdal_array, osr

    gdal.UseExceptions()
    array = np.asarray(array)
    if array.ndim == 2:
        array = array[None]
    if pixel is not None:
        geotransform = (geotransform[0], pixel, 0.0, geotransform[3], 0.0, -pixel)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    gdt = dtype if dtype is not None else gdal_array.NumericTypeCodeToGDALTypeCode(array.dtype)
    ds = gdal.GetDriverByName("GTiff").Create(str(path), array.shape[2], array.shape[1], array.shape[0], gdt)
    if geotransform is not None:
        ds.SetGeoTransform(geotransform)
    if epsg is not None:
        srs = osr.SpatialReference()
        srs.ImportFromEPSG(epsg)
        ds.SetProjection(srs.ExportToWkt())
    for i in range(array.shape[0]):
        band = ds.GetRasterBand(i + 1)
        if nodata is not None:
            band.SetNoDataValue(nodata)
        band.WriteArray(array[i])
    ds = None
    return path


def read_raster(path):
    """All bands of a raster as (C, H, W)."""
    from osgeo import gdal

    ds = gdal.Open(str(path))
    return ds.ReadAsArray().reshape(ds.RasterCount, ds.RasterYSize, ds.RasterXSize)


def stripe_pair(folder, rows=96, cols=128, corner=8, sar_pixel=20.0, seed=0, n_optical=3, n_sar=1, name="pair"):
    """(optical path, SAR path): a UInt16 optical raster at 10 m (water = a dark meandering stripe, nodata 0 in a
    ``corner`` x ``corner`` corner) and a Float32 SAR raster at ``sar_pixel`` m, origin shifted by half a SAR pixel,
    covering the optical footprint, with the stripe dark too."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:rows, 0:cols]
    water = np.abs(xx - cols / 2 - 10 * np.sin(yy / 9)) < cols / 8
    optical = rng.integers(800, 3000, size=(n_optical, rows, cols)).astype(np.uint16)
    optical[:, water] //= 6
    optical[:, :corner, :corner] = 0
    x0, y0 = UTM_GT[0], UTM_GT[3]
    srows, scols = int(rows * 10 / sar_pixel) + 3, int(cols * 10 / sar_pixel) + 3
    sar = rng.normal(-9, 1.5, size=(n_sar, srows, scols)).astype(np.float32)
    sgt = (x0 - sar_pixel / 2, sar_pixel, 0.0, y0 + sar_pixel / 2, 0.0, -sar_pixel)
    syy, sxx = np.mgrid[0:srows, 0:scols]
    swater = np.abs((sxx - 0.5) * sar_pixel / 10 - cols / 2 - 10 * np.sin((syy - 0.5) * sar_pixel / 10 / 9)) \
        < cols / 8
    sar[:, swater] -= 12
    folder = Path(folder)
    return (write_raster(folder / f"{name}_optical.tif", optical, UTM_GT, nodata=0),
            write_raster(folder / f"{name}_sar.tif", sar, sgt, nodata=-9999.0))
