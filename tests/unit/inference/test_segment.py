"""segment(): output grid, nodata, styling metadata, optional outputs, statistics, cancel and errors."""

import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from osgeo import gdal

from model.errors import EDCCancelled, EDCError, EDCInputError
from helpers.inference import BrokenNet, LocalNet, ThresholdNet, run_segment, use_predictor

gdal.UseExceptions()


@pytest.fixture(autouse=True)
def _one_thread():
    import torch
    torch.set_num_threads(1)


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if ".part" in p.name)


def test_segment_writes_styled_land_cover_on_optical_grid(tiny_weights, make_pair, tmp_path):
    optical, sar = make_pair(96, 128)
    out = tmp_path / "out" / "lc.tif"
    out.parent.mkdir()
    messages, progress = [], []
    result = run_segment(optical, sar, tiny_weights, out, tile_size=64, overlap=16, batch_size=2,
                         confidence=out.with_name("conf.tif"), cloudfree=out.with_name("cf.tif"),
                         reliability=out.with_name("rel.tif"), log=messages.append, progress=progress.append)
    src, ds = gdal.Open(str(optical)), gdal.Open(str(out))
    assert (ds.RasterXSize, ds.RasterYSize) == (128, 96) == (result.width, result.height)
    assert ds.GetGeoTransform() == pytest.approx(src.GetGeoTransform())
    band = ds.GetRasterBand(1)
    assert band.DataType == gdal.GDT_Byte and band.GetNoDataValue() == 255
    assert band.GetCategoryNames() == ["background", "flood water"]  # no empty names up to the nodata value
    assert band.GetColorTable().GetColorEntry(1)[:3] == (0x1f, 0x78, 0xb4)
    assert band.GetOverviewCount() >= 2 and ds.GetMetadata("IMAGE_STRUCTURE")["COMPRESSION"] == "DEFLATE"
    assert out.with_suffix(".qml").read_text().count("paletteEntry") == 2
    classes = band.ReadAsArray()
    assert (classes[:8, :8] == 255).all()  # optical nodata corner
    assert set(np.unique(classes[8:, 8:])) <= {0, 1}
    assert sum(s["pixels"] for s in result.class_stats) == (classes != 255).sum()
    assert result.class_stats[0]["area_m2"] == pytest.approx(result.class_stats[0]["pixels"] * 100.0, rel=3e-3)
    conf = gdal.Open(str(out.with_name("conf.tif"))).ReadAsArray()
    assert (conf[:8, :8] == -9999).all() and ((conf[8:, 8:] >= 0.5) & (conf[8:, 8:] <= 1)).all()
    cf = gdal.Open(str(out.with_name("cf.tif")))
    assert cf.RasterCount == 3 and cf.GetRasterBand(1).GetDescription() == "B11"
    rel = gdal.Open(str(out.with_name("rel.tif"))).ReadAsArray()
    assert ((rel[8:, 8:] >= 0) & (rel[8:, 8:] <= 1)).all()
    assert any("PyTorch on CPU" in m for m in messages) and result.device == "PyTorch on CPU"
    assert progress[-1] == 100 and progress == sorted(progress)
    assert _leftovers(out.parent) == []


@pytest.fixture
def local_net(monkeypatch):
    use_predictor(monkeypatch, LocalNet)


def _p1(conf_path, lc_path):
    conf, lc = gdal.Open(str(conf_path)).ReadAsArray(), gdal.Open(str(lc_path)).ReadAsArray()
    return np.where(lc == 1, conf, 1 - conf), lc


SAMPLE = Path(__file__).resolve().parents[3] / "resources" / "sample"


def test_tiled_inference_matches_one_pass_and_has_no_seams(tiny_weights, local_net, tmp_path):
    # a 200 x 200 pixel optical raster (a crop, not an extent: the network would also see 32 px around an extent)
    optical, sar = tmp_path / "optical.tif", SAMPLE / "sar.tif"
    gdal.Translate(str(optical), str(SAMPLE / "optical.tif"), srcWin=[50, 50, 200, 200])
    kw = dict(batch_size=3)
    run_segment(optical, sar, tiny_weights, tmp_path / "one.tif", tile_size=200, overlap=0,
                confidence=tmp_path / "one_c.tif", **kw)
    run_segment(optical, sar, tiny_weights, tmp_path / "tiled.tif", tile_size=64, overlap=16,
                confidence=tmp_path / "tiled_c.tif", **kw)
    p_one, c_one = _p1(tmp_path / "one_c.tif", tmp_path / "one.tif")
    p_tiled, c_tiled = _p1(tmp_path / "tiled_c.tif", tmp_path / "tiled.tif")
    assert c_one.shape == (200, 200) and 0.1 < (c_one == 1).mean() < 0.9  # the map is not constant
    inner = (slice(8, -8), slice(8, -8))
    assert (c_one[inner] == c_tiled[inner]).mean() > 0.995
    assert np.abs(p_one - p_tiled)[inner].max() < 0.05
    # no seam: across every tile edge (tiles start at 0, 48, 96, 136) the tiled map changes no more than the
    # one-pass map does there
    edges = [47, 63, 95, 111, 135, 143]
    for axis in (0, 1):
        tiled = np.abs(np.diff(p_tiled, axis=axis)).mean(axis=1 - axis)
        one = np.abs(np.diff(p_one, axis=axis)).mean(axis=1 - axis)
        assert (tiled[edges] <= one[edges] + 0.002).all()


def test_edc_tiles_blend_without_seams(tiny_weights, tmp_path):
    optical, sar = SAMPLE / "optical.tif", SAMPLE / "sar.tif"
    extent = (600500.0, 5100000.0 - 500 - 2560, 600500.0 + 2560, 5100000.0 - 500)  # 256 x 256 pixels
    run_segment(optical, sar, tiny_weights, tmp_path / "t.tif", tile_size=96, overlap=32,
                confidence=tmp_path / "t_c.tif", extent=extent)
    p, _ = _p1(tmp_path / "t_c.tif", tmp_path / "t.tif")
    step = np.abs(np.diff(p, axis=1)).mean(axis=0)
    edges = [s + d - 1 for s in (64, 128, 160) for d in (0, 96) if 0 < s + d < 256]
    assert step[edges].max() <= 2 * np.median(step)


def test_sample_scene_sar_in_another_crs(tiny_weights, tmp_path):
    result = run_segment(SAMPLE / "optical.tif", SAMPLE / "sar.tif", tiny_weights, tmp_path / "lc.tif", tile_size=256,
                         overlap=32)
    truth = gdal.Open(str(SAMPLE / "truth.tif"))
    out = gdal.Open(str(tmp_path / "lc.tif"))
    assert out.GetGeoTransform() == truth.GetGeoTransform() and (result.width, result.height) == (512, 512)
    assert out.GetSpatialRef().IsSame(truth.GetSpatialRef())
    assert ((out.ReadAsArray() == 255) == (truth.ReadAsArray() == 255)).all()
    assert out.GetRasterBand(1).GetOverviewCount() >= 2
    assert sum(s["area_m2"] for s in result.class_stats) == pytest.approx((truth.ReadAsArray() != 255).sum() * 100,
                                                                          rel=3e-3)


def test_extent_crops_the_output(tiny_weights, make_pair, tmp_path):
    optical, sar = make_pair(96, 128)
    result = run_segment(optical, sar, tiny_weights, tmp_path / "lc.tif", tile_size=64, overlap=8,
                         extent=(500105.0, 4599405.0, 500502.0, 4599800.0))
    ds = gdal.Open(str(tmp_path / "lc.tif"))
    assert ds.GetGeoTransform() == (500100.0, 10.0, 0.0, 4599800.0, 0.0, -10.0)
    assert (ds.RasterXSize, ds.RasterYSize) == (41, 40) == (result.width, result.height)


def test_an_extent_is_normalised_with_the_statistics_of_the_whole_overlap(tiny_weights, make_pair):
    """A pixel gets the same input values whatever extent is drawn; statistics of the extent alone would differ (the
    extent below holds mostly the dark water stripe)."""
    from model.inference import SegmentOptions
    from model.inference.decoding import decode_inputs
    from model.inference.inputs import input_statistics, open_inputs
    from model.weights import open_weights
    optical, sar = make_pair(96, 128)
    meta = open_weights(tiny_weights).metadata

    def stats(extent, pair_of=lambda pair: pair):
        options = SegmentOptions(str(optical), str(sar), str(tiny_weights), "unused.tif", extent=extent)
        pair = decode_inputs(open_inputs(options, meta, print), options.sar_units, print)
        return input_statistics(pair_of(pair), meta, print)

    extent = (500560.0, 4599400.0, 500720.0, 4599800.0)  # columns 56-72: the stripe
    assert stats(extent) == stats(None)
    assert stats(extent, _extent_only) != stats(None)


def _extent_only(pair):
    """``pair`` whose "whole overlap" is its own grid: statistics of the extent alone (what the code once did)."""
    from dataclasses import fields

    from model.geo.pair import InputPair

    class ExtentOnly(InputPair):
        def whole_overlap(self):
            return self
    return ExtentOnly(**{f.name: getattr(pair, f.name) for f in fields(pair)})


def test_nan_and_inf_in_sar_become_nodata(tiny_weights, make_pair, tmp_path):
    optical, sar = make_pair(40, 40, corner=0, sar_pixel=10.0)
    ds = gdal.Open(str(sar), gdal.GA_Update)
    array = ds.ReadAsArray()
    array[10, 10], array[20, 30] = np.nan, np.inf
    ds.GetRasterBand(1).WriteArray(array)
    ds = None
    run_segment(optical, sar, tiny_weights, tmp_path / "lc.tif", tile_size=32, overlap=8)
    lc = gdal.Open(str(tmp_path / "lc.tif")).ReadAsArray()
    # the SAR grid is shifted by half a pixel: optical pixel j interpolates SAR pixels j and j + 1
    expected = np.zeros((40, 40), bool)
    expected[9:11, 9:11] = expected[19:21, 29:31] = True
    assert ((lc == 255) == expected).all()


def test_raster_smaller_than_one_tile_and_geographic_optical(tiny_weights, raster_writer, tmp_path):
    rng = np.random.default_rng(0)
    optical = raster_writer(tmp_path / "o.tif", rng.integers(1, 255, (3, 20, 30)).astype(np.uint8),
                            (15.0, 0.0001, 0.0, 46.0, 0.0, -0.0001), epsg=4326, nodata=0)
    sar = raster_writer(tmp_path / "s.tif", rng.normal(-10, 2, (1, 30, 30)).astype(np.float32),
                        (499900.0, 20.0, 0.0, 5094100.0, 0.0, -20.0), epsg=32633)
    result = run_segment(optical, sar, tiny_weights, tmp_path / "lc.tif")  # tile 256 from the weights
    assert (result.width, result.height) == (30, 20)
    assert sum(s["pixels"] for s in result.class_stats) == 600
    # m^2: 0.0001 degree is 11.1 m north-south and 7.7 m east-west at 46 degrees north
    assert sum(s["area_m2"] for s in result.class_stats) == pytest.approx(600 * 11.1 * 7.73, rel=0.01)


def test_onnx_weights_run_the_pipeline(tiny_weights, tiny_onnx, make_pair, tmp_path):
    pytest.importorskip("onnxruntime")
    onnx_path = tiny_onnx
    optical, sar = make_pair(64, 80)
    a = run_segment(optical, sar, onnx_path, tmp_path / "a.tif", tile_size=64, overlap=16,
                    confidence=tmp_path / "ac.tif")
    run_segment(optical, sar, tiny_weights, tmp_path / "b.tif", tile_size=64, overlap=16,
                confidence=tmp_path / "bc.tif")
    assert a.device.startswith("ONNX Runtime")
    ca, cb = (gdal.Open(str(tmp_path / n)).ReadAsArray() for n in ("ac.tif", "bc.tif"))
    np.testing.assert_allclose(ca, cb, atol=1e-4)


def test_cancel_leaves_no_file_and_keeps_the_previous_output(tiny_weights, make_pair, tmp_path):
    optical, sar = make_pair(128, 128)
    out = tmp_path / "lc.tif"
    out.write_bytes(b"previous result")
    calls = []
    with pytest.raises(EDCCancelled):
        run_segment(optical, sar, tiny_weights, out, tile_size=32, overlap=8, batch_size=1,
                    confidence=tmp_path / "c.tif", is_cancelled=lambda: calls.append(1) or len(calls) > 5)
    assert out.read_bytes() == b"previous result"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["lc.tif", optical.name, sar.name])


def test_disk_full_while_writing_leaves_nothing(tiny_weights, make_pair, tmp_path, monkeypatch):
    from helpers.inference import fill_the_disk

    from model.inference.writers import GeoTiffWriter
    optical, sar = make_pair(96, 96)
    fill_the_disk(monkeypatch, GeoTiffWriter)
    with pytest.raises(EDCInputError, match="No space left on device.*free space"):
        run_segment(optical, sar, tiny_weights, tmp_path / "lc.tif", tile_size=32, overlap=8,
                    reliability=tmp_path / "r.tif")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([optical.name, sar.name])


def _all_nodata(path, value):
    ds = gdal.Open(str(path), gdal.GA_Update)
    for b in range(ds.RasterCount):
        ds.GetRasterBand(b + 1).Fill(value)
    ds = None


@pytest.mark.parametrize("case, match", [
    ("folder", "folder of the land cover output .* does not exist"),
    ("tile", "Tile size 16 is out of range"),
    ("overlap", "Tile overlap 40 is out of range"),
    ("batch", "Batch size 0 is out of range"),
    ("device", "Device 'tpu' is unknown"),
    ("band", "Optical band 5 does not exist"),
    ("sar_bands", "SAR raster has 1 band but the weights need 2"),
    ("optical_nodata", "optical raster has no valid pixel"),
    ("sar_nan", "SAR raster has no valid pixel"),
    ("no_overlap", "optical and SAR rasters do not overlap"),
    ("extent_outside", "extent does not overlap the optical raster"),
    ("zero_extent", "zero or negative size"),
    ("same_output", "same file name"),
    ("weights", "does not exist"),
])
def test_bad_input_is_a_clear_error_and_leaves_nothing(case, match, tiny_weights, weights_factory, make_pair,
                                                       tmp_path):
    optical, sar = make_pair(64, 64)
    weights, out = tiny_weights, tmp_path / "lc.tif"
    kw = {}
    if case == "folder":
        out = tmp_path / "missing" / "lc.tif"
    elif case == "tile":
        kw["tile_size"] = 16
    elif case == "overlap":
        kw.update(tile_size=64, overlap=40)
    elif case == "batch":
        kw["batch_size"] = 0
    elif case == "device":
        kw["device"] = "tpu"
    elif case == "band":
        kw["optical_bands"] = [1, 2, 5]
    elif case == "sar_bands":
        weights = weights_factory(3, 2)
    elif case == "optical_nodata":
        _all_nodata(optical, 0)
    elif case == "sar_nan":
        _all_nodata(sar, np.nan)
    elif case == "no_overlap":
        ds = gdal.Open(str(sar), gdal.GA_Update)
        ds.SetGeoTransform((400000.0, 20.0, 0.0, 4000000.0, 0.0, -20.0))
        ds = None
    elif case == "extent_outside":
        kw["extent"] = (400000.0, 4000000.0, 400100.0, 4000100.0)
    elif case == "zero_extent":
        kw["extent"] = (500100.0, 4599500.0, 500100.0, 4599600.0)
    elif case == "same_output":
        kw["confidence"] = out
    elif case == "weights":
        weights = tmp_path / "nope.pt"
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(EDCError, match=match):
        run_segment(optical, sar, weights, out, **kw)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


DTYPES = {"uint8": gdal.GDT_Byte, "int16": gdal.GDT_Int16, "uint16": gdal.GDT_UInt16, "int32": gdal.GDT_Int32,
          "float32": gdal.GDT_Float32, "float64": gdal.GDT_Float64}


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(rows=st.integers(1, 70), cols=st.integers(1, 70), tile=st.integers(32, 48), dtype=st.sampled_from(list(DTYPES)),
       nodata_pick=st.sampled_from(["min", "max", "zero"]), hole_rate=st.sampled_from([0.0, 0.1, 0.5]),
       overlap_frac=st.floats(0, 0.5), seed=st.integers(0, 1000))
def test_property_nodata_exactly_where_an_input_is_nodata(tiny_weights, raster_writer, monkeypatch, rows, cols, tile,
                                                          dtype, nodata_pick, hole_rate, overlap_frac, seed):
    use_predictor(monkeypatch, ThresholdNet)
    rng = np.random.default_rng(seed)
    info = np.iinfo(dtype) if dtype.startswith(("u", "i")) else np.finfo(np.float32)
    nodata = {"min": info.min, "max": info.max, "zero": 0}[nodata_pick]
    optical = rng.integers(max(int(info.min), -500) + 1, min(int(info.max), 500) - 1, (3, rows, cols),
                           endpoint=True).astype(dtype)
    optical[rng.random((3, rows, cols)) < hole_rate / 3] = nodata
    sar = rng.normal(0, 100, (1, rows, cols)).astype(np.float32)
    bad_sar = rng.random((rows, cols)) < hole_rate / 3
    sar[0][bad_sar] = rng.choice([-9999.0, np.nan, np.inf], size=bad_sar.sum())
    invalid = (optical == nodata).any(axis=0) | bad_sar
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        opt_path = raster_writer(folder / "o.tif", optical, nodata=float(nodata), dtype=DTYPES[dtype])
        sar_path = raster_writer(folder / "s.tif", sar, nodata=-9999.0)
        try:
            result = run_segment(opt_path, sar_path, tiny_weights, folder / "lc.tif", tile_size=tile,
                                 overlap=int(tile * overlap_frac), batch_size=2)
        except EDCInputError as exc:
            assert invalid.all() and "no valid pixel" in str(exc)
            return
        lc = gdal.Open(str(folder / "lc.tif")).ReadAsArray().reshape(rows, cols)
        assert ((lc == 255) == invalid).all()
        assert set(np.unique(lc[~invalid])) <= {0, 1}
        assert sum(s["pixels"] for s in result.class_stats) == (~invalid).sum()
        assert not [p.name for p in folder.iterdir() if ".part" in p.name]


@pytest.mark.real_data
def test_real_m3m_cr_output_on_the_3m_optical_grid(weights_factory, shared_data, tmp_path):
    """At the native resolution (asked for: the weights were trained at 10 m), pixel for pixel on the 3 m grid."""
    root = shared_data / "m3m_cr" / "test"
    optical = next(root.glob("planet_cloudy_*/*/*.tif"))
    sar = next(root.glob("S1_*/*/*.tif"))
    messages = []
    result = run_segment(optical, sar, weights_factory(4, 2), tmp_path / "lc.tif", tile_size=128, overlap=16,
                         resolution="native", log=messages.append)
    assert any("the optical pixels are 3 m, the weights were trained at 10 m; mapping on the optical grid as asked"
               in m for m in messages), messages
    src, out, s1 = gdal.Open(str(optical)), gdal.Open(str(tmp_path / "lc.tif")), gdal.Open(str(sar))
    ogt, gt = src.GetGeoTransform(), out.GetGeoTransform()
    assert gt[1] == ogt[1] == 3.0 and gt[5] == ogt[5]
    col0, row0 = (gt[0] - ogt[0]) / 3.0, (ogt[3] - gt[3]) / 3.0
    assert col0 == int(col0) and row0 == int(row0)  # on the optical grid, not the 10 m SAR grid
    assert out.GetSpatialRef().IsSame(src.GetSpatialRef())
    lc = out.ReadAsArray()
    opt = src.ReadAsArray(int(col0), int(row0), out.RasterXSize, out.RasterYSize)
    # expected nodata: optical nodata (0) in a band, or pixel centre outside the SAR footprint (origins differ by 2 m)
    sgt = s1.GetGeoTransform()
    xc = gt[0] + (np.arange(out.RasterXSize) + 0.5) * 3.0
    yc = gt[3] - (np.arange(out.RasterYSize) + 0.5) * 3.0
    inside = ((xc > sgt[0]) & (xc < sgt[0] + 10 * s1.RasterXSize))[None, :] & \
        ((yc < sgt[3]) & (yc > sgt[3] - 10 * s1.RasterYSize))[:, None]
    expected = (opt == 0).any(axis=0) | ~inside
    assert ((lc == 255) == expected).all()
    assert result.class_stats[0]["area_m2"] == pytest.approx(result.class_stats[0]["pixels"] * 9.0, rel=3e-3)


@pytest.mark.real_data
def test_real_sen12ms_cr_13_band_optical(weights_factory, shared_data, tmp_path):
    root = shared_data / "sen12ms_cr"
    name = sorted(p.name for p in (root / "s2_cloudy").glob("*.tif"))[0]
    optical, sar = root / "s2_cloudy" / name, root / "s1" / name
    result = run_segment(optical, sar, weights_factory(13, 2), tmp_path / "lc.tif", tile_size=128, overlap=32,
                         cloudfree=tmp_path / "cf.tif")
    src, out = gdal.Open(str(optical)), gdal.Open(str(tmp_path / "lc.tif"))
    assert out.GetGeoTransform() == pytest.approx(src.GetGeoTransform()) and (result.width, result.height) == (256, 256)
    s1 = gdal.Open(str(sar)).ReadAsArray()
    assert ((out.ReadAsArray() == 255) == ~np.isfinite(s1).all(axis=0)).all()
    cloudfree = gdal.Open(str(tmp_path / "cf.tif"))
    assert cloudfree.RasterCount == 13
    # de-normalised back to the optical units (Sentinel-2 reflectance x 10000), not the 0..1 model space
    assert np.median(cloudfree.GetRasterBand(2).ReadAsArray()) > 50


def test_memory_does_not_grow_with_scene_height(tiny_weights, raster_writer, monkeypatch, tmp_path):
    import tracemalloc

    use_predictor(monkeypatch, ThresholdNet)
    peaks = []
    for rows in (1500, 6000):
        rng = np.random.default_rng(0)
        optical = raster_writer(tmp_path / f"o{rows}.tif", rng.integers(1, 255, (3, rows, 96)).astype(np.uint8),
                                nodata=0)
        sar = raster_writer(tmp_path / f"s{rows}.tif", rng.normal(0, 1, (1, rows, 96)).astype(np.float32))
        tracemalloc.start()
        run_segment(optical, sar, tiny_weights, tmp_path / f"lc{rows}.tif", tile_size=64, overlap=16, batch_size=2,
                    confidence=tmp_path / f"c{rows}.tif")
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    # 4 x the rows, about the same peak; one float32 copy of the larger scene alone would be 6.9 MB
    assert peaks[1] < 1.3 * peaks[0] and peaks[1] < 3e6, peaks


def test_model_failure_is_reported_and_leaves_nothing(tiny_weights, make_pair, monkeypatch, tmp_path):
    use_predictor(monkeypatch, BrokenNet)
    optical, sar = make_pair(64, 64)
    with pytest.raises(EDCInputError, match="model .* failed on a batch of tiles .*illegal memory access"):
        run_segment(optical, sar, tiny_weights, tmp_path / "lc.tif", tile_size=32, overlap=8)
    assert not list(tmp_path.glob("lc*")) and not list(tmp_path.glob(".lc*"))


def test_band_order_that_contradicts_band_names_is_warned(tiny_weights, tmp_path):
    messages = []
    run_segment(SAMPLE / "optical.tif", SAMPLE / "sar.tif", tiny_weights, tmp_path / "lc.tif", optical_bands=[3, 2, 1],
                extent=(600000.0, 5099000.0, 601000.0, 5100000.0), log=messages.append)
    warnings = [m for m in messages if m.startswith("WARNING")]
    assert len(warnings) == 2 and "band 3 is described as 'B3' but the weights expect 'B11'" in warnings[0]


def test_unwritable_output_folder(tiny_weights, make_pair, tmp_path, monkeypatch):
    optical, sar = make_pair(32, 32)
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    if os.access(folder, os.W_OK):  # running as root: simulate the permission check failing
        real = os.access
        monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == folder else real(p, mode))
    with pytest.raises(EDCInputError, match="folder of the land cover output .* is not writable"):
        run_segment(optical, sar, tiny_weights, folder / "lc.tif")
    assert list(folder.iterdir()) == []


@pytest.mark.real_data
def test_real_ombria_png_pair_without_georeferencing(tiny_weights, shared_data, tmp_path):
    root = shared_data / "ombria"
    optical = next((root / "OmbriaS2" / "test" / "AFTER").glob("*.png"))
    sar = root / "OmbriaS1" / "test" / "AFTER" / optical.name.replace("S2_", "S1_")
    result = run_segment(optical, sar, tiny_weights, tmp_path / "lc.tif")  # the default weights' own domain
    assert (result.width, result.height) == (256, 256)
    assert sum(s["pixels"] for s in result.class_stats) == 256 * 256


def test_argmax_max_matches_numpy_including_ties():
    from model.inference.writers import argmax_max
    rng = np.random.default_rng(3)
    for channels in (1, 2, 5):
        probs = rng.integers(0, 4, (channels, 17, 23)).astype(np.float32)  # many ties
        index, best = argmax_max(probs)
        assert index.dtype == np.uint8
        assert (index == probs.argmax(0)).all() and (best == probs.max(0)).all()


def test_statistics_windows_of_a_large_scene_lie_on_the_optical_blocks():
    from model.geo.sampling import STATS_WINDOW, window_starts
    starts = window_starts(4096, STATS_WINDOW, 4, 256, 0)
    assert starts == [0, 1280, 2560, 3840]
    # a cropped grid (offset 100): starts move back onto the file's 256-pixel blocks, within the grid
    starts = window_starts(3000, STATS_WINDOW, 4, 256, 100)
    assert all((s + 100) % 256 == 0 or s == 0 for s in starts) and max(starts) <= 3000 - STATS_WINDOW
    assert window_starts(300, 256, 4, 512, 0) == [0]


def test_statistics_fall_back_to_the_whole_scene_when_the_windows_hold_no_valid_pixel(tiny_weights, raster_writer,
                                                                                     monkeypatch, tmp_path):
    use_predictor(monkeypatch, ThresholdNet)
    rng = np.random.default_rng(0)
    optical = np.zeros((3, 1100, 1100), np.uint8)  # nodata 0 everywhere but a corner no statistics window covers
    optical[:, 1060:, 1060:] = rng.integers(1, 255, (3, 40, 40))
    opt = raster_writer(tmp_path / "o.tif", optical, nodata=0)
    sar = raster_writer(tmp_path / "s.tif", rng.normal(0, 1, (1, 1100, 1100)).astype(np.float32))
    result = run_segment(opt, sar, tiny_weights, tmp_path / "lc.tif", tile_size=256, overlap=32)
    lc = gdal.Open(str(tmp_path / "lc.tif")).ReadAsArray()
    assert (lc[1060:, 1060:] != 255).all() and (lc[:1060] == 255).all()
    assert sum(s["pixels"] for s in result.class_stats) == 40 * 40


def test_an_extent_is_widened_within_the_inputs_and_cropped_back(tiny_weights, make_pair, tmp_path):
    """The network runs on the extent and 32 model pixels around it, clipped to the inputs' overlap; the map covers
    the extent only.  Here the widened extent is the whole raster, so the map is the whole run's, pixel for pixel."""
    from model.inference import SegmentOptions
    from model.inference.decoding import decode_inputs
    from model.inference.inputs import open_inputs
    from model.inference.run import network_area
    from model.weights import open_weights
    optical, sar = make_pair(96, 128)
    meta = open_weights(tiny_weights).metadata
    near_edge = (500105.0, 4599405.0, 500502.0, 4599800.0)  # columns 10-51, rows 20-60
    options = SegmentOptions(str(optical), str(sar), str(tiny_weights), "unused.tif", extent=near_edge)
    pair = decode_inputs(open_inputs(options, meta, print), options.sar_units, print)
    area, at = network_area(pair, meta, options)
    assert pair.offset == (10, 20) and (pair.grid.width, pair.grid.height) == (41, 40)
    assert area.offset == (0, 0) and at == (10, 20) and (area.grid.width, area.grid.height) == (83, 92)

    inner = (500320.0, 4599360.0, 500960.0, 4599680.0)  # columns 32-96, rows 32-64: widened, the whole raster
    messages = []
    run_segment(optical, sar, tiny_weights, tmp_path / "lc.tif", tile_size=48, overlap=8, extent=inner,
                confidence=tmp_path / "c.tif", log=messages.append)
    assert any("model grid: 128 x 96 (the extent and up to 32 px around it)" in m for m in messages), messages
    run_segment(optical, sar, tiny_weights, tmp_path / "whole.tif", tile_size=48, overlap=8,
                confidence=tmp_path / "whole_c.tif")
    window = gdal.Open(str(tmp_path / "c.tif")).ReadAsArray()
    whole = gdal.Open(str(tmp_path / "whole_c.tif")).ReadAsArray()
    assert whole.shape == (96, 128) and window.shape == (32, 64)
    assert np.array_equal(window, whole[32:64, 32:96])


def test_a_narrow_extent_still_gets_32_model_pixels_of_context(tiny_weights, make_pair, tmp_path):
    """2 m optical, weights at 10 m: 32 model pixels are 160 optical pixels on every side, even around a 3 x 3 px
    extent (whose own model grid would round to 1 pixel of 6 m)."""
    from model.inference import SegmentOptions
    from model.inference.decoding import decode_inputs
    from model.inference.inputs import open_inputs
    from model.inference.run import network_area
    from model.weights import open_weights
    optical, sar = make_pair(96, 128)
    fine = tmp_path / "fine.tif"
    gdal.Translate(str(fine), str(optical), xRes=2.0, yRes=2.0, resampleAlg="near")
    meta = open_weights(tiny_weights).metadata
    extent = (500600.0, 4599594.0, 500606.0, 4599600.0)  # columns 300-303, rows 200-203 of the 2 m grid
    options = SegmentOptions(str(fine), str(sar), str(tiny_weights), "unused.tif", extent=extent)
    pair = decode_inputs(open_inputs(options, meta, print), options.sar_units, print)
    area, at = network_area(pair, meta, options)
    assert pair.offset == (300, 200) and at == (160, 160)
    assert (area.grid.width, area.grid.height) == (323, 323)
