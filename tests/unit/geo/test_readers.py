"""Raster access: opening, band checks, the output grid, validity masks and the warped SAR view."""

import numpy as np
import pytest

from model.errors import EDCInputError
from model.geo.grid import Grid, output_grid
from model.geo.rasters import open_raster, select_bands
from model.geo.readers import BandReader, RowCache, WarpedReader
from model.geo.warp import warped_vrt

GT = (500000.0, 10.0, 0.0, 4600000.0, 0.0, -10.0)
NAMES = ["B11", "B8", "B3"]


@pytest.fixture
def write(tmp_path, raster_writer):
    """write(name, array, gt=GT, epsg=32633, nodata=None) -> path in tmp_path."""
    return lambda name, array, gt=GT, epsg=32633, nodata=None: raster_writer(tmp_path / name, array, gt, epsg, nodata)


@pytest.fixture
def optical(write):
    return write("o.tif", np.ones((3, 50, 40), np.uint16), nodata=0)


def test_open_and_band_errors_name_the_input(tmp_path, optical, write):
    with pytest.raises(EDCInputError, match="optical raster .* does not exist"):
        open_raster(tmp_path / "missing.tif", "optical")
    (tmp_path / "junk.tif").write_text("not a raster")
    with pytest.raises(EDCInputError, match="SAR raster .*junk.tif' cannot be read by GDAL"):
        open_raster(tmp_path / "junk.tif", "SAR")
    ds = open_raster(optical, "optical")
    assert select_bands(ds, [3, 1, 2], NAMES, "optical") == [3, 1, 2]
    with pytest.raises(EDCInputError, match="Optical band 4 does not exist: the optical raster has bands 1 to 3"):
        select_bands(ds, [1, 2, 4], NAMES, "optical")
    with pytest.raises(EDCInputError, match="2 optical bands were selected but the weights need exactly 3"):
        select_bands(ds, [1, 2], NAMES, "optical")
    with pytest.raises(EDCInputError, match="has 3 bands but the weights need 4"):
        select_bands(ds, [1, 2, 3, 4], NAMES + ["B2"], "optical")


def test_output_grid_crops_to_extent_and_sar_footprint(tmp_path, optical, write):
    opt = open_raster(optical, "optical")
    sar_gt = (500105.0, 20.0, 0.0, 4599900.0, 0.0, -20.0)  # starts 10.5 columns / 10 rows in
    sar = open_raster(write("s.tif", np.zeros((1, 100, 100), np.float32), sar_gt), "SAR")
    grid, offset = output_grid(opt, sar)
    assert offset == (10, 10) and (grid.width, grid.height) == (30, 40)
    assert grid.geotransform == (500100.0, 10.0, 0.0, 4599900.0, 0.0, -10.0)
    grid, offset = output_grid(opt, sar, (500150.0, 4599600.0, 500250.0, 4599800.0))
    assert offset == (15, 20) and (grid.width, grid.height) == (10, 20)
    with pytest.raises(EDCInputError, match="zero or negative size"):
        output_grid(opt, sar, (500150.0, 4599600.0, 500150.0, 4599800.0))
    with pytest.raises(EDCInputError, match="extent does not overlap the optical raster"):
        output_grid(opt, sar, (0, 0, 10, 10))
    far = open_raster(write("far.tif", np.zeros((1, 10, 10), np.float32),
                             (700000.0, 20.0, 0.0, 4000000.0, 0.0, -20.0)), "SAR")
    with pytest.raises(EDCInputError, match="optical and SAR rasters do not overlap"):
        output_grid(opt, far)
    flipped = open_raster(write("up.tif", np.zeros((1, 10, 10), np.float32), (500000.0, 10, 0, 4599500.0, 0, 10)),
                          "SAR")
    with pytest.raises(EDCInputError, match="SAR raster is rotated or south-up"):
        output_grid(opt, flipped)
    no_crs = open_raster(write("nocrs.tif", np.zeros((1, 10, 10), np.float32), epsg=None), "SAR")
    with pytest.raises(EDCInputError, match="SAR raster has no coordinate reference system"):
        output_grid(opt, no_crs)


def test_sar_in_geographic_crs_is_warped_virtually(tmp_path, optical, write):
    opt = open_raster(optical, "optical")
    # a SAR raster in EPSG:4326 around the optical footprint (UTM 33N, 500 km E = 15 deg E)
    sar = open_raster(write("geo.tif", np.arange(200 * 200, dtype=np.float32).reshape(1, 200, 200),
                             (14.995, 0.0001, 0.0, 41.556, 0.0, -0.0001), epsg=4326, nodata=-1), "SAR")
    grid, offset = output_grid(opt, sar)
    assert (grid.width, grid.height) == (40, 50) and offset == (0, 0)
    vrt = warped_vrt(sar, [1], grid)
    assert vrt.GetDriver().ShortName == "VRT" and vrt.RasterCount == 2  # band + alpha, nothing on disk
    data, valid = BandReader(vrt, [1], alpha=2).read(0, 50, 40)
    assert data.shape == (1, 50, 40) and valid.all()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["geo.tif", "o.tif"]


def test_validity_combines_band_masks_alpha_and_finite_values(tmp_path, optical, write):
    array = np.ones((2, 6, 6), np.float32)
    array[0, 0, 0] = -9999  # nodata of band 1
    array[1, 1, 1] = np.nan
    array[1, 2, 2] = np.inf
    ds = open_raster(write("v.tif", array, nodata=-9999), "SAR")
    data, valid = BandReader(ds, [1, 2]).read(0, 6, 6)
    expected = np.ones((6, 6), bool)
    expected[0, 0] = expected[1, 1] = expected[2, 2] = False
    assert (valid == expected).all()
    _, valid = BandReader(ds, [2]).read(0, 6, 6)  # band 1's nodata does not matter when band 1 is not used
    assert valid[0, 0] and not valid[1, 1]
    # warping keeps NaN as invalid and marks pixels outside the SAR coverage through the alpha band
    grid = Grid((499990.0, 10.0, 0.0, 4600010.0, 0.0, -10.0), ds.GetProjection(), 8, 8)
    data, valid = BandReader(warped_vrt(ds, [1, 2], grid, "near"), [1, 2], alpha=3).read(0, 8, 8)
    assert not valid[0].any() and not valid[:, 0].any() and not valid[2, 2] and valid[4:7, 4:7].all()


class _CountingReader:
    """A BandReader stand-in over an array: records every read (row, rows, width)."""

    def __init__(self, array):
        self.array, self.reads = array, []

    def read(self, y, height, width, x=0, out_shape=None):
        self.reads.append((y, height, width))
        block = self.array[:, y:y + height, x:x + width].astype(np.float32)
        return block, block[0] > 0


def test_row_cache_reads_each_chunk_once_on_block_boundaries_and_keeps_what_it_gave():
    rng = np.random.default_rng(0)
    array = rng.integers(0, 9, (2, 300, 50)).astype(np.float32)
    reader = _CountingReader(array)
    cache = RowCache(reader, 50, 300, chunk=64, align=10)
    views = []
    for y in (0, 40, 80, 120, 160, 200, 240, 268):  # rows of tiles of 32 rows overlapping by 8, 268 = 300 - 32
        for x in (0, 18):
            data, valid = cache.read(y, 32, x, 32)
            assert (data == array[:, y:y + 32, x:x + 32]).all()
            assert (valid == (array[0, y:y + 32, x:x + 32] > 0)).all()
            views.append((y, x, data))
    # chunks end where (row + align) is a multiple of 64: 54, 118, 182, 246, then the last row
    assert reader.reads == [(0, 54, 50), (54, 64, 50), (118, 64, 50), (182, 64, 50), (246, 54, 50)]
    for y, x, data in views:  # what was handed out earlier is left as it was
        assert (data == array[:, y:y + 32, x:x + 32]).all()
    with pytest.raises(ValueError, match="move down"):
        cache.read(100, 32, 0, 32)


def test_row_cache_chunk_rows_are_whole_block_rows():
    assert RowCache.chunk_rows(256) == 256
    assert RowCache.chunk_rows(128) == 128
    assert RowCache.chunk_rows(1) == 128  # scanlines: 128 at a time
    assert RowCache.chunk_rows(100) == 200
    assert RowCache.chunk_rows(512) == 512
    assert RowCache.chunk_rows(10000) == 128  # one block for the whole image: do not read it whole


def test_row_cache_with_a_real_warped_sar_matches_direct_reads(tmp_path, optical, write):
    sar = write("s.tif", np.random.default_rng(1).normal(0, 1, (1, 30, 25)).astype(np.float32),
                gt=(499990.0, 20.0, 0.0, 4600010.0, 0.0, -20.0))
    opt_ds, sar_ds = open_raster(optical, "optical"), open_raster(sar, "SAR")
    grid, _ = output_grid(opt_ds, sar_ds)
    vrt = warped_vrt(sar_ds, [1], grid)
    direct = BandReader(vrt, [1], alpha=2)
    cache = RowCache(BandReader(vrt, [1], alpha=2), grid.width, grid.height, chunk=16, datasets=(vrt, sar_ds))
    for y in range(0, grid.height - 20, 12):
        a, av = cache.read(y, 20, 5, 30)
        b, bv = direct.read(y, 20, 30, x=5)
        assert (av == bv).all() and np.array_equal(a[:, av], b[:, bv])


def test_band_reader_native_type_halves_16_bit_data(tmp_path, write):
    path = write("u16.tif", np.arange(2 * 6 * 5, dtype=np.uint16).reshape(2, 6, 5) + 1, nodata=0)
    ds = open_raster(path, "optical")
    native, as_float = BandReader(ds, [1, 2], native=True).read(0, 6, 5), BandReader(ds, [1, 2]).read(0, 6, 5)
    assert native[0].dtype == np.uint16 and as_float[0].dtype == np.float32
    assert (native[0] == as_float[0]).all() and (native[1] == as_float[1]).all()


def test_warped_reader_windows_match_the_warped_vrt(tmp_path, write):
    from osgeo import osr

    rng = np.random.default_rng(2)
    opt = write("o.tif", rng.integers(1, 999, (3, 120, 100)).astype(np.uint16), nodata=0)
    # SAR in EPSG:4326 at about twice the optical pixel, with a nodata hole
    utm, wgs = osr.SpatialReference(), osr.SpatialReference()
    utm.ImportFromEPSG(32633)
    wgs.ImportFromEPSG(4326)
    for s in (utm, wgs):
        s.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    lon, lat = osr.CoordinateTransformation(utm, wgs).TransformPoint(GT[0] - 50, GT[3] + 50)[:2]
    step = 20.0 / 111320.0
    array = rng.normal(-12, 3, (1, 70, 80)).astype(np.float32)
    array[0, 30:34, 20:30] = -9999.0
    sar = write("s.tif", array, gt=(lon, step, 0.0, lat, 0.0, -step), epsg=4326, nodata=-9999.0)
    opt_ds, sar_ds = open_raster(opt, "optical"), open_raster(sar, "SAR")
    grid, _ = output_grid(opt_ds, sar_ds)
    vrt_data, vrt_valid = BandReader(warped_vrt(sar_ds, [1], grid), [1], alpha=2).read(0, grid.height, grid.width)
    reader = WarpedReader(sar_ds, [1], grid)
    for y, x, h, w in ((0, 0, grid.height, grid.width), (17, 9, 40, 50)):
        data, valid = reader.read(y, h, w, x=x)
        assert (valid == vrt_valid[y:y + h, x:x + w]).mean() > 0.995  # the same coverage but at a few edge pixels
        both = valid & vrt_valid[y:y + h, x:x + w]
        # both use GDAL's approximate transformer (within 1/8 pixel), fitted to different windows
        diff = np.abs(data[0][both] - vrt_data[0, y:y + h, x:x + w][both])
        assert both.mean() > 0.5 and diff.max() < 0.05 and diff.mean() < 0.005
    assert not vrt_valid.all()  # the hole is nodata in both
