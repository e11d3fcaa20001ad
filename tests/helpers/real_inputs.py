"""Real rasters from ../shared/data turned into the forms users' chains produce: a Sentinel-2 + Sentinel-1 pair of
SSL4EO-S12 (optical B11, B8, B3 as the default weights expect, UInt16 at 10 m; SAR VV in dB, EPSG:4326), and the same
SAR in linear power, amplitude or complex samples, with an undeclared fill border, or without signal."""

from pathlib import Path

import numpy as np

from helpers.rasters import read_raster

SHARED_DATA = (Path(__file__).resolve().parents[2] / ".." / "shared" / "data").resolve()
SSL4EO = Path("ssl4eo_s12")
S2_DATE = "20200604T054639_20200604T054831_T43RCP"
S1_PRODUCT = "S1A_IW_GRDH_1SDV_20200607T010800_20200607T010825_032904_03CFBA_D457"


def ssl4eo_pair(shared_data, folder):
    """(optical.tif, sar_db.tif) in ``folder``: the SSL4EO-S12 location's L2A B11, B8, B3 stacked on B8's 10 m grid
    (UInt16, no nodata declared, as in the source) and its VV backscatter in dB (EPSG:4326, no nodata declared)."""
    from osgeo import gdal
    gdal.UseExceptions()
    folder = Path(folder)
    s2 = shared_data / SSL4EO / "s2a" / "0000200" / S2_DATE
    stack = gdal.BuildVRT("", [str(s2 / f"{b}.tif") for b in ("B11", "B8", "B3")], separate=True,
                          resolution="highest")
    optical = folder / "optical.tif"
    gdal.Translate(str(optical), stack, creationOptions=["TILED=YES"])
    sar = folder / "sar_db.tif"
    gdal.Translate(str(sar), str(shared_data / SSL4EO / "s1" / "0000200" / S1_PRODUCT / "VV.tif"))
    return optical, sar


def rewrite(source, target, values, dtype=None, description=None):
    """A copy of raster ``source`` (georeferencing, size) holding ``values`` (C, H, W), as ``dtype`` (GDAL type)."""
    from osgeo import gdal, gdal_array
    gdal.UseExceptions()
    src = gdal.Open(str(source))
    values = np.asarray(values)
    gdt = dtype if dtype is not None else gdal_array.NumericTypeCodeToGDALTypeCode(values.dtype)
    out = gdal.GetDriverByName("GTiff").Create(str(target), src.RasterXSize, src.RasterYSize, len(values), gdt)
    out.SetGeoTransform(src.GetGeoTransform())
    out.SetProjection(src.GetProjection())
    for k, band in enumerate(values):
        out.GetRasterBand(k + 1).WriteArray(band)
        if description:
            out.GetRasterBand(k + 1).SetDescription(description)
    out = None
    return Path(target)


def sar_in(units, sar_db, target, seed=0, description=None):
    """The dB SAR ``sar_db`` converted to ``units``: "linear power", "amplitude" or "complex" (amplitude with random
    phase, CFloat32, as single-look complex data)."""
    db = read_raster(sar_db).astype(np.float64)
    power = 10 ** (db / 10)
    if units == "linear power":
        values = power.astype(np.float32)
    elif units == "amplitude":
        values = np.sqrt(power).astype(np.float32)
    elif units == "complex":
        phase = np.random.default_rng(seed).uniform(0, 2 * np.pi, db.shape)
        values = (np.sqrt(power) * np.exp(1j * phase)).astype(np.complex64)
    else:
        raise ValueError(units)
    return rewrite(sar_db, target, values, description=description)


def with_border(source, target, value, width):
    """A copy of ``source`` whose outer ``width`` pixels on the top and left hold ``value`` (undeclared)."""
    values = read_raster(source).copy()
    values[:, :width, :] = value
    values[:, :, :width] = value
    return rewrite(source, target, values)


def agreement(a, b):
    """Share of pixels where two class maps agree, among those valid (not 255) in both."""
    a, b = read_raster(a)[0], read_raster(b)[0]
    both = (a != 255) & (b != 255)
    return float((a[both] == b[both]).mean()), int(both.sum())


def resampled(source, target, factor, resampling="near"):
    """A copy of ``source`` whose pixels are ``factor`` times smaller (factor < 1: larger), same extent and CRS."""
    from osgeo import gdal
    gdal.UseExceptions()
    src = gdal.Open(str(source))
    gdal.Warp(str(target), src, width=round(src.RasterXSize * factor), height=round(src.RasterYSize * factor),
              resampleAlg=resampling, creationOptions=["TILED=YES", "COMPRESS=DEFLATE"])
    return Path(target)


def on_grid_of(path, reference):
    """The class map ``path`` sampled (nearest) at the pixel centres of raster ``reference`` (same CRS); 255 outside."""
    from osgeo import gdal
    src, ref = gdal.Open(str(path)), gdal.Open(str(reference))
    values = src.ReadAsArray()
    sgt, rgt = src.GetGeoTransform(), ref.GetGeoTransform()
    xs = rgt[0] + (np.arange(ref.RasterXSize) + 0.5) * rgt[1]
    ys = rgt[3] + (np.arange(ref.RasterYSize) + 0.5) * rgt[5]
    cols = np.floor((xs - sgt[0]) / sgt[1]).astype(int)
    rows = np.floor((ys - sgt[3]) / sgt[5]).astype(int)
    inside = ((rows[:, None] >= 0) & (rows[:, None] < src.RasterYSize) &
              (cols[None] >= 0) & (cols[None] < src.RasterXSize))
    out = np.full((ref.RasterYSize, ref.RasterXSize), 255, values.dtype)
    r, c = np.clip(rows, 0, src.RasterYSize - 1), np.clip(cols, 0, src.RasterXSize - 1)
    out[inside] = values[np.ix_(r, c)][inside]
    return out
