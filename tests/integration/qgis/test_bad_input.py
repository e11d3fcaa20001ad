"""Issue 6 through the public entry points: every kind of bad input and fault fed to ``processing.run("edc:segment")``
(and a few to ``qgis_process``).  Each either gives a correct result or a message that names the input and says what
to do, shows no traceback, and leaves nothing in the output folder.  docs/BAD_INPUT.md lists the outcomes."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers.hostile import hostile_weights
from helpers.qgis_tasks import LogFeedback, segment_fails, stop_qgis_process_midway
from osgeo import gdal

gdal.UseExceptions()
X0, Y0 = 500000.0, 4600000.0



@pytest.fixture
def out_dir(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


def _params(scene, weights, out_dir, **extra):
    values = {"OPTICAL": str(scene["optical"]), "SAR": str(scene["sar"]), "WEIGHTS": str(weights), "DEVICE": 1,
              "OUTPUT": str(out_dir / "lc.tif"), "CONFIDENCE": str(out_dir / "conf.tif")}
    values.update(extra)
    return values


def _fails(parameters, out_dir, *expected):
    return segment_fails(parameters, out_dir, *expected)


def _runs(parameters):
    import processing

    feedback = LogFeedback()
    result = processing.run("edc:segment", parameters, feedback=feedback)
    land_cover = gdal.Open(result["OUTPUT"]).ReadAsArray()
    return result, land_cover, "\n".join(feedback.messages)


def _raster(writer, path, bands, rows, cols, pixel=10.0, epsg=32631, nodata=None, dtype=np.float32, seed=0,
            origin=(X0, Y0)):
    rng = np.random.default_rng(seed)
    array = rng.normal(1000, 200, (bands, rows, cols)).clip(1, None).astype(dtype)
    return writer(path, array, (origin[0], pixel, 0.0, origin[1], 0.0, -pixel), epsg=epsg, nodata=nodata)


def _weights_with(weights_factory, tmp_path, **changes):
    """A copy of tiny test weights whose metadata has ``changes`` (written without validation, as a tool might)."""
    import torch

    blob = torch.load(weights_factory(4, 2), map_location="cpu", weights_only=True)
    meta = json.loads(blob["metadata_json"])
    meta.update(changes)
    path = tmp_path / "edited.pt"
    torch.save({"metadata_json": json.dumps(meta), "state_dict": blob["state_dict"]}, path)
    return path


# ------------------------------------------------------------------------------------------- inputs that must fail

def _fill(path, value):
    ds = gdal.Open(str(path), gdal.GA_Update)
    for b in range(ds.RasterCount):
        ds.GetRasterBand(b + 1).Fill(value)
    ds = None
    return path


BAD_RASTERS = {
    # case: (how to build (writer, folder, scene) -> overrides, expected message parts)
    "sar_far_away": (lambda w, d, s: {"SAR": _raster(w, d / "far.tif", 2, 40, 40, 20.0, origin=(300000.0, 4000000.0))},
                     ["optical and SAR rasters do not overlap", "choose a SAR raster covering the same area"]),
    "optical_two_bands": (lambda w, d, s: {"OPTICAL": _raster(w, d / "o2.tif", 2, 50, 60, dtype=np.uint16)},
                          ["optical raster has 2 bands but the weights need 4", "choose an optical raster"]),
    "sar_one_band": (lambda w, d, s: {"SAR": _raster(w, d / "s1.tif", 1, 60, 70, 20.0, origin=(X0 - 50, Y0 + 50))},
                     ["SAR raster has 1 band but the weights need 2", "choose"]),
    "band_out_of_range": (lambda w, d, s: {"OPTICAL_BANDS": [1, 2, 3, 9]},
                          ["optical band 9", "1 to 4"]),
    "too_few_bands_selected": (lambda w, d, s: {"SAR_BANDS": [2]},
                               ["1 SAR band was selected", "need exactly 2"]),
    "optical_all_nodata": (lambda w, d, s: {"OPTICAL": _fill(_raster(w, d / "o0.tif", 4, 40, 40, nodata=0,
                                                                     dtype=np.uint16), 0)},
                           ["optical raster has no valid pixel", "choose another optical raster"]),
    "sar_all_nodata": (lambda w, d, s: {"SAR": _fill(_raster(w, d / "s0.tif", 2, 60, 70, 20.0, nodata=-9999,
                                                             origin=(X0 - 50, Y0 + 50)), -9999)},
                       ["SAR raster has no valid pixel", "choose another SAR raster"]),
    "sar_all_nan": (lambda w, d, s: {"SAR": _fill(_raster(w, d / "snan.tif", 2, 60, 70, 20.0,
                                                          origin=(X0 - 50, Y0 + 50)), np.nan)},
                    ["SAR raster has no valid pixel"]),
    "no_common_valid_pixel": (lambda w, d, s: {"SAR": _hole_sar(w, d)},
                              ["no valid pixel in common", "choose rasters that cover the same area"]),
    "optical_not_a_raster": (lambda w, d, s: {"OPTICAL": _text(d / "notes.tif")},
                             ["optical", "notes.tif"]),
    "optical_missing": (lambda w, d, s: {"OPTICAL": str(d / "nowhere.tif")},
                        ["OPTICAL"]),
}


def _text(path):
    path.write_text("this is not a raster")
    return path


def _hole_sar(writer, folder):
    """SAR covering the optical raster but with data only over its nodata corner."""
    sar = _raster(writer, folder / "hole.tif", 2, 60, 70, 20.0, nodata=-9999, origin=(X0 - 50, Y0 + 50))
    ds = gdal.Open(str(sar), gdal.GA_Update)
    for b in range(2):
        array = np.full((60, 70), -9999, np.float32)
        array[:5, :5] = 1.0  # optical nodata corner (the scene's 10 x 10 pixels = 100 m)
        ds.GetRasterBand(b + 1).WriteArray(array)
    ds = None
    return sar


@pytest.mark.parametrize("case", sorted(BAD_RASTERS))
def test_bad_raster_input(case, provider, scene, edc_weights, raster_writer, tmp_path, out_dir):
    build, expected = BAD_RASTERS[case]
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    overrides = {k: (str(v) if isinstance(v, Path) else v) for k, v in build(raster_writer, inputs, scene).items()}
    _fails(_params(scene, edc_weights, out_dir, **overrides), out_dir, *expected)


@pytest.mark.parametrize("extra, expected", [
    ({"EXTENT": "0,10,0,10 [EPSG:32631]"}, ["extent does not overlap the optical raster"]),
    ({"EXTENT": "500100,500100,4599300,4599600 [EPSG:32631]"}, ["extent", "zero or negative size"]),
    ({"EXTENT": "500100,500400,4599500,4599500 [EPSG:32631]"}, ["extent", "zero or negative size"]),
    ({"TILE_SIZE": 16}, ["Tile size 16 is out of range", "between 32 and 4096"]),
    ({"TILE_SIZE": 5000}, ["Tile size 5000 is out of range"]),
    ({"TILE_SIZE": 9000}, ["TILE_SIZE"]),
    ({"TILE_SIZE": 64, "OVERLAP": 40}, ["Tile overlap 40 is out of range", "half the tile size"]),
    ({"BATCH_SIZE": 999}, ["BATCH_SIZE"]),
    ({"OUTPUT": "lc.png"}, ["GeoTIFF"]),
], ids=["extent_outside", "extent_zero_width", "extent_zero_height", "tile_16", "tile_5000", "tile_9000",
        "overlap_over_half", "batch_999", "output_png"])
def test_bad_parameter(extra, expected, provider, scene, edc_weights, out_dir):
    if extra.get("OUTPUT"):
        extra = dict(extra, OUTPUT=str(out_dir / extra["OUTPUT"]))
    _fails(_params(scene, edc_weights, out_dir, **extra), out_dir, *expected)


# ------------------------------------------------------------------------------------------------- bad weights

def _truncated(factory, folder):
    data = Path(factory(4, 2)).read_bytes()
    path = folder / "cut.pt"
    path.write_bytes(data[:len(data) // 3])
    return path


def _foreign(factory, folder):
    path = folder / "photo.pt"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    return path


def _foreign_onnx(factory, folder):
    path = folder / "model.onnx"
    path.write_text("not a protobuf")
    return path


def _plain_state_dict(factory, folder):
    import torch
    path = folder / "plain.pt"
    torch.save({"conv.weight": torch.zeros(2, 2)}, path)
    return path


BAD_WEIGHTS = {
    "missing": (lambda f, d: d / "absent.pt", ["absent.pt", "does not exist", "choose an existing"]),
    "truncated": (_truncated, ["cut.pt", "truncated, damaged or not an EDC weights file"]),
    "not_weights": (_foreign, ["photo.pt", "not an EDC weights file"]),
    "not_onnx": (_foreign_onnx, ["model.onnx", "cannot be read as ONNX"]),
    "plain_state_dict": (_plain_state_dict, ["plain.pt", "no EDC metadata"]),
    "other_bands": (lambda f, d: f(6, 2), ["optical raster has 4 bands but the weights need 6"]),
    "other_sar_bands": (lambda f, d: f(4, 3), ["SAR raster has 2 bands but the weights need 3"]),
}


@pytest.mark.parametrize("case", sorted(BAD_WEIGHTS))
def test_bad_weights(case, provider, scene, weights_factory, tmp_path, out_dir):
    build, expected = BAD_WEIGHTS[case]
    _fails(_params(scene, build(weights_factory, tmp_path), out_dir), out_dir, *expected)


@pytest.mark.parametrize("changes, expected", [
    ({"architecture": "unet"}, ["'architecture'", "'unet'", "re-export"]),
    ({"format_version": 7}, ["'format_version'", "update the plugin"]),
    ({"tile_size": 10 ** 9}, ["'tile_size'"]),
    ({"classes": "all of them"}, ["'classes'"]),
    ({"config": {"in_optical": 4}}, ["'config'", "re-export"]),
], ids=["unknown_architecture", "future_format", "huge_tile", "classes_not_list", "config_unbuildable"])
def test_weights_with_bad_metadata(changes, expected, provider, scene, weights_factory, tmp_path, out_dir):
    _fails(_params(scene, _weights_with(weights_factory, tmp_path, **changes), out_dir), out_dir, *expected)


# ------------------------------------------------------------------------------------- environment and faults

def test_torch_not_installed(provider, scene, edc_weights, out_dir, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` raise ImportError
    _fails(_params(scene, edc_weights, out_dir), out_dir, "PyTorch", "install", "pip install torch", ".onnx")


@pytest.fixture(scope="module")
def edc_onnx(edc_weights, tmp_path_factory):
    pytest.importorskip("onnx")
    from helpers.weights import onnx_copy
    return onnx_copy(edc_weights, tmp_path_factory.mktemp("onnx") / "edc.onnx")


def test_onnxruntime_not_installed(provider, scene, edc_onnx, out_dir, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    _fails(_params(scene, edc_onnx, out_dir), out_dir, "ONNX Runtime", "not installed", "pip install onnxruntime")


def test_onnx_weights_run_without_torch(provider, scene, edc_onnx, out_dir, monkeypatch):
    pytest.importorskip("onnxruntime")
    monkeypatch.setitem(sys.modules, "torch", None)
    result, land_cover, _ = _runs(_params(scene, edc_onnx, out_dir))
    assert result["DEVICE_USED"].startswith("ONNX Runtime") and (land_cover != 255).sum() > 0


def test_cuda_requested_without_gpu(provider, scene, edc_weights, out_dir):
    import torch
    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    _fails(_params(scene, edc_weights, out_dir, DEVICE=2), out_dir, "CUDA", "choose the device 'Automatic' or 'CPU'")


def test_output_folder_missing(provider, scene, edc_weights, tmp_path, out_dir):
    _fails(_params(scene, edc_weights, out_dir, OUTPUT=str(tmp_path / "no" / "such" / "lc.tif")), out_dir,
           "land cover output", "does not exist", "create it")
    assert not (tmp_path / "no").exists()


def test_output_folder_not_writable(provider, scene, edc_weights, out_dir, monkeypatch):
    out_dir.chmod(0o555)
    if os.access(out_dir, os.W_OK):  # root: make the permission check see what a normal user would
        real = os.access
        monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if Path(p) == out_dir else real(p, mode, **kw))
    try:
        _fails(_params(scene, edc_weights, out_dir), out_dir, "is not writable", "choose a folder you can write to")
    finally:
        out_dir.chmod(0o755)


def test_disk_full_while_writing(provider, scene, edc_weights, out_dir, monkeypatch):
    """GDAL's own write error text (what a full disk gives) at the second block row of the land-cover output."""
    from edc.model.inference.writers import GeoTiffWriter
    from helpers.inference import fill_the_disk

    fill_the_disk(monkeypatch, GeoTiffWriter)
    _fails(_params(scene, edc_weights, out_dir, TILE_SIZE=32, OVERLAP=4), out_dir, "Writing the output failed",
           "No space left on device", "free space")


def test_gpu_out_of_memory_halves_the_batch_then_falls_back_to_cpu(provider, scene, edc_weights, out_dir,
                                                                    monkeypatch):
    """The predictor claims to be on a GPU whose every batch runs out of memory: the run halves the batch down to one
    tile, then continues on the CPU with a warning, and the map equals a plain CPU run's."""
    import edc.model.inference.run as run  # where segment() looks its predictor up

    real_load = run.load_predictor
    sizes = []

    def on_small_gpu(*args, **kwargs):
        predictor = real_load(*args, **kwargs)
        real_run = predictor._run

        def run(optical, sar):
            sizes.append((predictor.on_gpu, len(optical)))
            if predictor.on_gpu:
                raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
            return real_run(optical, sar)
        predictor.on_gpu, predictor._run = True, run
        return predictor
    monkeypatch.setattr(run, "load_predictor", on_small_gpu)
    result, land_cover, log = _runs(_params(scene, edc_weights, out_dir, BATCH_SIZE=4, TILE_SIZE=32, OVERLAP=4))
    assert [n for gpu, n in sizes if gpu] == [4, 2, 1]
    assert "using batches of 2" in log and "continuing on the CPU" in log
    assert "fell back" in result["DEVICE_USED"]
    monkeypatch.setattr(run, "load_predictor", real_load)
    _, reference, _ = _runs(_params(scene, edc_weights, out_dir, BATCH_SIZE=4, TILE_SIZE=32, OVERLAP=4,
                                    OUTPUT=str(out_dir / "ref.tif"), CONFIDENCE=None))
    assert np.array_equal(land_cover, reference)


# ------------------------------------------------------------------------------------------- inputs that must work

def _transform(x, y, source, target):
    from osgeo import osr
    a, b = osr.SpatialReference(), osr.SpatialReference()
    a.ImportFromEPSG(source)
    b.ImportFromEPSG(target)
    for s in (a, b):
        s.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    return osr.CoordinateTransformation(a, b).TransformPoint(x, y)[:2]


def _utm(lon, lat):
    return _transform(lon, lat, 4326, 32631)


def test_sar_in_geographic_crs_and_much_coarser(provider, scene, edc_weights, raster_writer, tmp_path, out_dir):
    """SAR in EPSG:4326 at ~100 m (10 x the optical pixel): warped on the fly onto the optical grid."""
    lon, lat = _transform(X0 - 200, Y0 + 200, 32631, 4326)
    sar = _raster(raster_writer, tmp_path / "sar4326.tif", 2, 20, 25, 0.0012, epsg=4326, origin=(lon, lat))
    result, land_cover, _ = _runs(_params(scene, edc_weights, out_dir, SAR=str(sar)))
    ds, optical = gdal.Open(result["OUTPUT"]), gdal.Open(str(scene["optical"]))
    assert ds.GetGeoTransform() == optical.GetGeoTransform() and land_cover.shape == scene["shape"]
    assert (land_cover[scene["nodata_corner"]] == 255).all() and (land_cover[20:, 20:] != 255).all()


def test_sar_much_finer_than_optical(provider, scene, edc_weights, raster_writer, tmp_path, out_dir):
    sar = _raster(raster_writer, tmp_path / "fine.tif", 2, 1040, 1240, 1.0, origin=(X0 - 20, Y0 + 20))
    _, land_cover, _ = _runs(_params(scene, edc_weights, out_dir, SAR=str(sar)))
    assert land_cover.shape == scene["shape"] and (land_cover[20:, 20:] != 255).all()


def test_optical_in_geographic_crs_smaller_than_one_tile(provider, edc_weights, raster_writer, tmp_path, out_dir):
    optical = _raster(raster_writer, tmp_path / "o.tif", 4, 20, 30, 0.0001, epsg=4326, dtype=np.uint16,
                      origin=(3.0, 41.5))
    x, y = _utm(3.0, 41.5)  # top-left corner of the optical raster in UTM 31N; the SAR covers it with a margin
    sar = _raster(raster_writer, tmp_path / "s.tif", 2, 30, 30, 20.0, epsg=32631, origin=(x - 100, y + 100))
    result, land_cover, _ = _runs(_params({"optical": optical, "sar": sar}, edc_weights, out_dir))
    assert land_cover.shape == (20, 30) and (land_cover != 255).all()
    # m^2: 0.0001 degree is 11.1 m north-south and 8.3 m east-west at 41.5 degrees north
    assert result["VALID_AREA"] == pytest.approx(600 * 11.1 * 8.33, rel=0.01)


def test_nan_and_inf_in_sar_are_nodata(provider, scene, edc_weights, raster_writer, tmp_path, out_dir):
    sar = _raster(raster_writer, tmp_path / "s.tif", 2, 100, 120, 10.0)  # on the optical grid
    ds = gdal.Open(str(sar), gdal.GA_Update)
    array = ds.GetRasterBand(2).ReadAsArray()
    array[50, 60], array[70, 30], array[80, 100] = np.nan, np.inf, -np.inf
    ds.GetRasterBand(2).WriteArray(array)
    ds = None
    _, land_cover, _ = _runs(_params(scene, edc_weights, out_dir, SAR=str(sar)))
    nodata = land_cover == 255
    assert nodata[50, 60] and nodata[70, 30] and nodata[80, 100]
    nodata[scene["nodata_corner"]] = False
    assert nodata.sum() <= 3 * 9  # at most the bilinear neighbourhood of each bad SAR pixel


def test_band_names_that_contradict_the_weights_are_warned(provider, scene, edc_weights, raster_writer, tmp_path,
                                                           out_dir):
    """Weights trained for other bands than the raster describes: the run works and the log says so."""
    from model.weights import open_weights
    expected = open_weights(edc_weights).metadata["inputs"]["optical"]["bands"]
    optical = tmp_path / "described.tif"
    gdal.Translate(str(optical), str(scene["optical"]))
    ds = gdal.Open(str(optical), gdal.GA_Update)
    ds.GetRasterBand(1).SetDescription("thermal")
    ds = None
    _, land_cover, log = _runs(_params(scene, edc_weights, out_dir, OPTICAL=str(optical)))
    assert f"band 1 is described as 'thermal' but the weights expect '{expected[0]}'" in log
    assert land_cover.shape == scene["shape"]


# ----------------------------------------------------------------------------------------------- qgis_process

def _qgis_process(qgis_process, parameters, preexec=None, timeout=600):
    argv, env = qgis_process
    args = argv + ["run", "edc:segment", "--"] + [f"{k}={v}" for k, v in parameters.items() if v is not None]
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout, preexec_fn=preexec)


@pytest.mark.slow
@pytest.mark.parametrize("case", ["truncated", "sar_one_band"])
def test_qgis_process_user_sees_a_clean_message(case, qgis_process, scene, weights_factory, edc_weights,
                                                raster_writer, tmp_path, out_dir):
    if case == "truncated":
        parameters, expected = _params(scene, _truncated(weights_factory, tmp_path), out_dir), "cut.pt"
    else:
        sar = _raster(raster_writer, tmp_path / "s1.tif", 1, 60, 70, 20.0, origin=(X0 - 50, Y0 + 50))
        parameters, expected = _params(scene, edc_weights, out_dir, SAR=sar), "SAR raster has 1 band"
    run = _qgis_process(qgis_process, parameters)
    shown = run.stdout + run.stderr
    assert run.returncode != 0 and expected in shown, shown[-3000:]
    assert not any(t in shown for t in ("Traceback", 'File "')), shown[-3000:]
    assert list(out_dir.iterdir()) == []


@pytest.mark.slow
def test_qgis_process_real_file_size_limit(qgis_process, scene, edc_weights, raster_writer, tmp_path, out_dir):
    """A real write failure (not a mock): qgis_process runs with RLIMIT_FSIZE so the confidence raster cannot grow
    past 256 KiB (like a full disk, GDAL gets EFBIG); the user gets a clean message and no output is left."""
    import resource
    rng = np.random.default_rng(3)
    optical = raster_writer(tmp_path / "big_o.tif", rng.integers(1, 4000, (4, 400, 400)).astype(np.uint16),
                            (X0, 10.0, 0.0, Y0, 0.0, -10.0), epsg=32631, nodata=0)
    sar = raster_writer(tmp_path / "big_s.tif", rng.normal(-10, 2, (2, 400, 400)).astype(np.float32),
                        (X0, 10.0, 0.0, Y0, 0.0, -10.0), epsg=32631)
    limit = 256 * 1024

    def limited():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # write() then fails with EFBIG instead of killing
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    previous = out_dir / "lc.tif"
    previous.write_bytes(b"previous result")
    run = _qgis_process(qgis_process, _params({"optical": optical, "sar": sar}, edc_weights, out_dir,
                                              TILE_SIZE=128, OVERLAP=8), preexec=limited)
    shown = run.stdout + run.stderr
    assert run.returncode != 0 and "free space" in shown, shown[-3000:]
    assert not any(t in shown for t in ("Traceback", 'File "')), shown[-3000:]
    assert previous.read_bytes() == b"previous result"
    assert sorted(p.name for p in out_dir.iterdir()) == ["lc.tif"]


@pytest.mark.slow
def test_qgis_process_killed_mid_run_keeps_the_previous_file(qgis_process, edc_weights, raster_writer, tmp_path,
                                                             out_dir):
    rng = np.random.default_rng(4)
    optical = raster_writer(tmp_path / "o.tif", rng.integers(1, 4000, (4, 512, 512)).astype(np.uint16),
                            (X0, 10.0, 0.0, Y0, 0.0, -10.0), epsg=32631, nodata=0)
    sar = raster_writer(tmp_path / "s.tif", rng.normal(-10, 2, (2, 512, 512)).astype(np.float32),
                        (X0, 10.0, 0.0, Y0, 0.0, -10.0), epsg=32631)
    previous = out_dir / "lc.tif"
    previous.write_bytes(b"previous result")
    argv, env = qgis_process
    parameters = _params({"optical": optical, "sar": sar}, edc_weights, out_dir, TILE_SIZE=32, OVERLAP=0,
                         BATCH_SIZE=1)
    status, seen = stop_qgis_process_midway(argv, env, parameters, signal.SIGKILL)
    assert status == -signal.SIGKILL, seen[-2000:]
    assert previous.read_bytes() == b"previous result"
    assert not (out_dir / "conf.tif").exists()
    assert all(p.name.startswith(".") for p in out_dir.iterdir() if p.name != "lc.tif")


def test_weights_whose_pickle_would_run_code(provider, scene, edc_weights, tmp_path, out_dir):
    weights, marker = hostile_weights("in_state_dict", tmp_path, edc_weights)
    _fails(_params(scene, weights, out_dir), out_dir, weights.name, "cannot be read")
    assert not marker.exists(), "code from the weights file was executed"


def test_extent_in_another_crs_is_reprojected(provider, scene, edc_weights, out_dir):
    """An extent drawn in EPSG:4326 crops the output on the optical (UTM) grid."""
    west, south = _transform(X0 + 300, Y0 - 700, 32631, 4326)
    east, north = _transform(X0 + 800, Y0 - 300, 32631, 4326)
    result, land_cover, _ = _runs(_params(scene, edc_weights, out_dir,
                                          EXTENT=f"{west},{east},{south},{north} [EPSG:4326]"))
    x0, dx, _, y0, _, dy = gdal.Open(result["OUTPUT"]).GetGeoTransform()
    assert (dx, dy) == (10.0, -10.0) and (x0 - X0) % 10 == 0 and (y0 - Y0) % 10 == 0
    assert abs(x0 - (X0 + 300)) <= 20 and abs(y0 - (Y0 - 300)) <= 20
    assert abs(land_cover.shape[1] - 50) <= 3 and abs(land_cover.shape[0] - 40) <= 3


@pytest.mark.slow
def test_qgis_process_without_torch(qgis_process, scene, edc_weights, edc_onnx, tmp_path, out_dir):
    """A machine without PyTorch: .pt weights give the install hint, .onnx weights run with ONNX Runtime alone."""
    pytest.importorskip("onnxruntime")
    onnx_path = edc_onnx
    blocker = tmp_path / "no_torch" / "torch"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError(\"No module named 'torch'\", name='torch')\n")
    argv, env = qgis_process
    env = dict(env, PYTHONPATH=os.pathsep.join([str(blocker.parent), env["PYTHONPATH"]]))
    failed = _qgis_process((argv, env), _params(scene, edc_weights, out_dir))
    shown = failed.stdout + failed.stderr
    assert failed.returncode != 0 and "PyTorch is needed for .pt weights" in shown and ".onnx" in shown, shown[-3000:]
    assert not any(t in shown for t in ("Traceback", 'File "')) and list(out_dir.iterdir()) == []
    worked = _qgis_process((argv, env), _params(scene, onnx_path, out_dir))
    assert worked.returncode == 0, (worked.stdout + worked.stderr)[-3000:]
    assert "ONNX Runtime" in worked.stdout and (out_dir / "lc.tif").is_file()
