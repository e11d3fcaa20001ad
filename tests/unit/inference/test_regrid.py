"""The model grid (model/geo/resolution.py) and nearest regridding of finished rows (model/inference/regrid.py)."""

import numpy as np
import pytest

from model.geo.grid import Grid
from model.geo.resolution import model_grid, pixel_size_m
from model.inference.regrid import NearestRegrid

UTM = 'PROJCS["WGS 84 / UTM zone 33N",GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563]],' \
      'PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433]],PROJECTION["Transverse_Mercator"],' \
      'PARAMETER["latitude_of_origin",0],PARAMETER["central_meridian",15],PARAMETER["scale_factor",0.9996],' \
      'PARAMETER["false_easting",500000],PARAMETER["false_northing",0],UNIT["metre",1]]'


@pytest.mark.parametrize("pixel, native, expected", [(10.0, False, 1000), (14.0, False, 1000), (2.0, False, 200),
                                                     (40.0, False, 4000), (2.0, True, 1000)])
def test_model_grid_at_the_weights_resolution(pixel, native, expected):
    grid = Grid((500000.0, pixel, 0.0, 4600000.0, 0.0, -pixel), UTM, 1000, 1000)
    model, note = model_grid(grid, 10.0, native=native)
    assert model.width == expected and model.bounds == pytest.approx(grid.bounds)
    assert (note is None) == (expected == 1000 and not native)


def test_degrees_are_metres_at_the_latitude():
    from osgeo import osr
    wgs84 = osr.SpatialReference()
    wgs84.ImportFromEPSG(4326)
    grid = Grid((15.0, 0.0001, 0.0, 60.0, 0.0, -0.0001), wgs84.ExportToWkt(), 100, 100)
    x, y = pixel_size_m(grid)
    assert x == pytest.approx(11.132 * np.cos(np.radians(59.995)), rel=1e-3) and y == pytest.approx(11.132, rel=1e-3)
    assert pixel_size_m(Grid((0, 1, 0, 0, 0, -1), "", 5, 5)) is None


@pytest.mark.parametrize("factor, chunks", [(2.5, [3, 3, 1]), (0.4, [4, 5, 1]), (3.0, [7])])
def test_rows_arrive_in_order_and_are_upsampled_to_the_nearest(factor, chunks):
    model = Grid((0.0, 1.0, 0.0, 0.0, 0.0, -1.0), "", 7, sum(chunks))
    output = model.resized(round(model.width * factor), round(model.height * factor))
    source = np.random.default_rng(0).random((2, model.height, model.width)).astype(np.float32)
    written, rows = np.full((2, output.height, output.width), np.nan, np.float32), []

    def write(y, values, valid, extra):
        assert extra == "stats" and valid.shape == values.shape[1:]
        written[:, y:y + values.shape[1]] = values
        rows.append((y, values.shape[1]))
    regrid, y = NearestRegrid(model, output, write), 0
    for n in chunks:
        regrid.write_rows(y, source[:, y:y + n], np.ones((n, model.width), bool), "stats")
        y += n
    assert [r[0] for r in rows] == sorted(r[0] for r in rows) and sum(r[1] for r in rows) == output.height
    centres_y = ((np.arange(output.height) + 0.5) * model.height / output.height).astype(int)
    centres_x = ((np.arange(output.width) + 0.5) * model.width / output.width).astype(int)
    assert np.array_equal(written, source[:, centres_y][:, :, centres_x])


@pytest.mark.parametrize("factor", [1.0, 2.5, 0.4])
def test_an_output_window_of_a_wider_area_gets_its_own_model_pixels(factor):
    """The network ran over ``area`` (an extent widened); the output grid is the window at ``at`` of the area's
    pixels: every output pixel gets the model pixel nearest to its centre, rows arriving in chunks."""
    area = Grid((0.0, 1.0, 0.0, 0.0, 0.0, -1.0), "", 30, 24)
    model = area if factor == 1.0 else area.resized(round(area.width / factor), round(area.height / factor))
    at, output = (7, 5), area.window(7, 5, 12, 10)
    source = np.random.default_rng(1).random((1, model.height, model.width)).astype(np.float32)
    written = np.full((1, output.height, output.width), np.nan, np.float32)

    def write(y, values, valid):
        written[:, y:y + values.shape[1]] = values
    regrid = NearestRegrid(model, output, write, area, at)
    for y in range(0, model.height, 4):
        regrid.write_rows(y, source[:, y:y + 4], np.ones((min(4, model.height - y), model.width), bool))
    ys = ((np.arange(output.height) + at[1] + 0.5) * model.height / area.height).astype(int)
    xs = ((np.arange(output.width) + at[0] + 0.5) * model.width / area.width).astype(int)
    assert np.array_equal(written, source[:, ys][:, :, xs])
    if factor == 1.0:
        assert np.array_equal(written, source[:, 5:15, 7:19])  # a plain crop
