"""Helpers for the dataset reader tests: the shared real data folder and tiny GeoTIFF writers."""

from pathlib import Path

import numpy as np
import pytest

SHARED = Path(__file__).resolve().parents[3] / ".." / "shared" / "data"


@pytest.fixture
def shared_data():
    if not SHARED.is_dir():
        pytest.skip(f"real sample data not found at {SHARED.resolve()} (a fresh clone has no ../shared)")
    return SHARED.resolve()


def write_tif(path, array, pixel=10.0, origin=(500000.0, 4600000.0), dtype=None):
    """Write (C, H, W) or (H, W) as a GeoTIFF in EPSG:32631."""
    from osgeo import gdal, osr
    gdal.UseExceptions()
    array = np.asarray(array)
    if array.ndim == 2:
        array = array[None]
    types = {np.dtype("uint8"): gdal.GDT_Byte, np.dtype("uint16"): gdal.GDT_UInt16,
             np.dtype("float32"): gdal.GDT_Float32, np.dtype("int16"): gdal.GDT_Int16}
    path.parent.mkdir(parents=True, exist_ok=True)
    ds = gdal.GetDriverByName("GTiff").Create(str(path), array.shape[2], array.shape[1], array.shape[0],
                                              types[array.dtype])
    ds.SetGeoTransform((origin[0], pixel, 0, origin[1], 0, -pixel))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32631)
    ds.SetProjection(srs.ExportToWkt())
    for i in range(array.shape[0]):
        ds.GetRasterBand(i + 1).WriteArray(array[i])
    ds = None
    return path


@pytest.fixture
def tif():
    """The GeoTIFF writer, as a fixture (test modules cannot import each other's conftest reliably)."""
    return write_tif
