"""True pixel areas (model/geo/areas.py): the same real scene in UTM, Web Mercator and geographic coordinates has
the same area on the ellipsoid, in m^2."""

import numpy as np
import pytest
from osgeo import gdal

from model.geo.areas import PixelAreas
from model.geo.grid import Grid

gdal.UseExceptions()


def _grid(path):
    ds = gdal.Open(str(path))
    return Grid(ds.GetGeoTransform(), ds.GetProjection(), ds.RasterXSize, ds.RasterYSize)


def _total(areas, grid):
    classes = np.zeros((grid.height, grid.width), np.uint8)
    return areas.count(0, classes, 1)[1][0]


@pytest.mark.real_data
@pytest.mark.parametrize("epsg", [3857, 4326])
def test_area_is_the_same_in_any_crs(shared_data, tmp_path, epsg):
    """A real UTM scene (SEN12MS-CR, 50.8 degrees north, where a Web Mercator m^2 is 0.4 true m^2) warped to Web
    Mercator and to WGS84: the total true area agrees with the UTM original's within 0.5 %."""
    source = shared_data / "sen12ms_cr" / "s2_cloudy" / "ROIs2017_winter_112_p797.tif"
    utm = _grid(source)
    warped = tmp_path / f"scene_{epsg}.tif"
    band = gdal.Translate("", str(source), format="VRT", bandList=[1])  # referenced while warped
    gdal.Warp(str(warped), band, dstSRS=f"EPSG:{epsg}", dstAlpha=True)
    grid = _grid(warped)
    # the warped grid holds the footprint with a margin outside it: compare the footprint (alpha), in its pixels
    ds = gdal.Open(str(warped))
    inside = ds.GetRasterBand(2).ReadAsArray() > 127
    areas = PixelAreas.of(grid)
    _, area = areas.count(0, np.where(inside, 0, 255).astype(np.uint8), 1)
    expected = _total(PixelAreas.of(utm), utm)
    assert expected == pytest.approx(utm.width * utm.height * utm.pixel_area, rel=5e-3)
    assert area[0] == pytest.approx(expected, rel=5e-3)
    assert grid.pixel_area * inside.sum() != pytest.approx(expected, rel=0.05)  # map units are not m^2 there


def test_counts_and_areas_of_classes_per_lattice_cell():
    """Pixel counts equal a plain count; every pixel of one lattice cell has the same area; rows handed in pieces
    that cross lattice rows add up to the whole."""
    grid = Grid((10.0, 0.0001, 0.0, 46.0, 0.0, -0.0001), _wgs84(), 150, 130)
    areas = PixelAreas.of(grid, step=64)
    classes = np.random.default_rng(0).integers(0, 3, (130, 150)).astype(np.uint8)
    classes[:5] = 255
    pixels, area = np.zeros(3, np.int64), np.zeros(3)
    for y in (0, 50, 70, 128):
        end = {0: 50, 50: 70, 70: 128, 128: 130}[y]
        p, a = areas.count(y, classes[y:end], 3)
        pixels, area = pixels + p, area + a
    assert (pixels == np.bincount(classes.ravel(), minlength=256)[:3]).all()
    total = _total(areas, grid)
    assert total == pytest.approx(150 * 130 * 11.1 * 7.73, rel=0.01)
    assert area.sum() == pytest.approx(total * (classes != 255).mean(), rel=0.01)


def test_no_crs_no_area():
    assert PixelAreas.of(Grid((0.0, 1.0, 0.0, 0.0, 0.0, -1.0), "", 10, 10)) is None


def _wgs84():
    from osgeo import osr
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(4326)
    return srs.ExportToWkt()
