"""Shared fixtures: tiny random EDC weights shaped like the default (OMBRIA: optical B11, B8, B3; SAR VV; background /
flood water) and a helper writing small synthetic GeoTIFFs."""

from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO / ".." / "shared" / "data"
DEFAULT_CLASSES = [("background", "#d9d9d9"), ("flood water", "#1f78b4")]


def make_weights(path, n_optical=3, n_sar=1, classes=DEFAULT_CLASSES, tile_size=256, overlap=32, seed=0,
                 optical_names=None, sar_names=None, architecture="edc"):
    """A tiny randomly initialised network (fixed seed) saved as ``.pt`` weights; returns the path."""
    import torch

    from model.metadata import make_metadata
    from model.network import build_model, preset_config
    from model.weights import save_weights

    torch.manual_seed(seed)
    config = preset_config("tiny", n_optical, n_sar, len(classes))
    if optical_names is None:
        optical_names = ["B11", "B8", "B3"] if n_optical == 3 else [f"O{i + 1}" for i in range(n_optical)]
    sar_names = sar_names or (["VV"] if n_sar == 1 else [f"S{i + 1}" for i in range(n_sar)])
    meta = make_metadata(architecture, config, classes, optical_names, sar_names, tile_size=tile_size,
                         overlap=overlap, trained=False, training={"note": "random test weights"})
    return save_weights(build_model(architecture, config), meta, path)


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory):
    """Tiny random EDC like the default weights: 3 optical bands (B11, B8, B3), 1 SAR band (VV), 2 classes."""
    return make_weights(tmp_path_factory.mktemp("weights") / "tiny_edc.pt")


@pytest.fixture(scope="session")
def weights_factory(tmp_path_factory):
    """``weights_factory(n_optical, n_sar, **kw)`` -> path of tiny random weights (cached per argument set)."""
    cache = {}

    def make(n_optical=3, n_sar=1, **kw):
        key = (n_optical, n_sar, tuple(sorted(kw.items())))
        if key not in cache:
            cache[key] = make_weights(tmp_path_factory.mktemp("weights") / "w.pt", n_optical, n_sar, **kw)
        return cache[key]
    return make


def write_raster(path, array, geotransform=(500000.0, 10.0, 0.0, 4600000.0, 0.0, -10.0), epsg=32633, nodata=None,
                 dtype=None):
    """Write ``array`` (C, H, W) or (H, W) as a GeoTIFF; ``epsg=None`` writes no CRS; returns the path."""
    from osgeo import gdal, gdal_array, osr

    gdal.UseExceptions()
    array = np.asarray(array)
    if array.ndim == 2:
        array = array[None]
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
    return Path(path)


@pytest.fixture(scope="session")
def raster_writer():
    """The :func:`write_raster` helper, as a fixture (test modules cannot import conftest reliably)."""
    return write_raster


@pytest.fixture
def make_pair(tmp_path):
    """``make_pair(rows, cols, ...)`` -> (optical path, SAR path): a 3-band UInt16 optical raster at 10 m (water =
    dark stripe, nodata 0 in a corner of ``corner`` pixels) and a 1-band Float32 SAR raster at ``sar_pixel`` m whose
    origin is shifted by half a SAR pixel and which covers the optical footprint."""

    def make(rows=96, cols=128, corner=8, sar_pixel=20.0, seed=0, n_optical=3, n_sar=1, name="pair"):
        rng = np.random.default_rng(seed)
        yy, xx = np.mgrid[0:rows, 0:cols]
        water = np.abs(xx - cols / 2 - 10 * np.sin(yy / 9)) < cols / 8
        optical = rng.integers(800, 3000, size=(n_optical, rows, cols)).astype(np.uint16)
        optical[:, water] //= 6
        optical[:, :corner, :corner] = 0
        x0, y0 = 500000.0, 4600000.0
        srows, scols = int(rows * 10 / sar_pixel) + 3, int(cols * 10 / sar_pixel) + 3
        sar = rng.normal(-9, 1.5, size=(n_sar, srows, scols)).astype(np.float32)
        sgt = (x0 - sar_pixel / 2, sar_pixel, 0.0, y0 + sar_pixel / 2, 0.0, -sar_pixel)
        syy, sxx = np.mgrid[0:srows, 0:scols]
        swater = np.abs((sxx - 0.5) * sar_pixel / 10 - cols / 2 - 10 * np.sin((syy - 0.5) * sar_pixel / 10 / 9)) \
            < cols / 8
        sar[:, swater] -= 12
        opt_path = write_raster(tmp_path / f"{name}_optical.tif", optical, (x0, 10.0, 0.0, y0, 0.0, -10.0),
                                nodata=0)
        sar_path = write_raster(tmp_path / f"{name}_sar.tif", sar, sgt, nodata=-9999.0)
        return opt_path, sar_path
    return make
