"""Issue "Real inputs, real units" through ``processing.run("edc:segment")`` (and ``qgis_process`` where the message
or the process matters), each case built from a real raster of ../shared/data: an output that is an input, SAR
georeferenced by GCPs only (as Sentinel-1 GRD measurement GeoTIFFs), unreferenced inputs of different sizes, true
areas in any CRS, weights suffixes, SIGTERM and stale temporary files, band descriptions that are not band names."""

import hashlib
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from helpers.qgis_tasks import TRACEBACK_TEXT, LogFeedback, segment_fails, stop_qgis_process_midway
from osgeo import gdal

gdal.UseExceptions()
REPO = Path(__file__).resolve().parents[3]
DEFAULT_WEIGHTS = REPO / "resources" / "edc_default.onnx"
SEN12 = "ROIs2017_winter_112_p797.tif"  # SEN12MS-CR, UTM 31N, 50.8 degrees north

pytestmark = pytest.mark.real_data


@pytest.fixture
def out_dir(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


@pytest.fixture
def sen12(shared_data, tmp_path):
    """Copies (never the shared files themselves) of a real SEN12MS-CR pair: 13-band Sentinel-2, 2-band Sentinel-1."""
    folder = tmp_path / "sen12"
    folder.mkdir()
    optical, sar = folder / "s2.tif", folder / "s1.tif"
    shutil.copy(shared_data / "sen12ms_cr" / "s2_cloudy" / SEN12, optical)
    shutil.copy(shared_data / "sen12ms_cr" / "s1" / SEN12, sar)
    return {"optical": optical, "sar": sar}


@pytest.fixture
def default_weights():
    if not DEFAULT_WEIGHTS.is_file():
        pytest.skip("the trained default weights resources/edc_default.onnx are not installed")
    return DEFAULT_WEIGHTS


@pytest.fixture
def ssl4eo(shared_data, tmp_path):
    """SSL4EO-S12 location 0000200 (EPSG:4326): Sentinel-2 L1C B11, B8, B3 stacked at 10 m, and Sentinel-1 VV (dB)."""
    s2 = sorted((shared_data / "ssl4eo_s12" / "s2c" / "0000200").iterdir())[0]
    vv = sorted((shared_data / "ssl4eo_s12" / "s1" / "0000200").glob("*/VV.tif"))[0]
    stack = gdal.BuildVRT("", [str(s2 / f"{b}.tif") for b in ("B11", "B8", "B3")], separate=True,
                          resolution="highest")
    optical = tmp_path / "s2_b11_b8_b3.tif"
    gdal.Translate(str(optical), stack)
    return {"optical": optical, "sar": vv, "s2": s2}


def _gcp_only(source, path, n=6):
    """A copy of ``source`` georeferenced by an n x n grid of GCPs (from its geotransform) and no geotransform."""
    src = gdal.Open(str(source))
    gt, w, h = src.GetGeoTransform(), src.RasterXSize, src.RasterYSize
    gcps = [gdal.GCP(gt[0] + c * gt[1] + r * gt[2], gt[3] + c * gt[4] + r * gt[5], 0, c, r)
            for r in np.linspace(0, h, n) for c in np.linspace(0, w, n)]
    gdal.Translate(str(path), src, GCPs=gcps, outputSRS=src.GetProjection())
    check = gdal.Open(str(path))
    assert check.GetGeoTransform(can_return_null=True) is None and check.GetGCPCount() == n * n
    return path


def _params(optical, sar, weights, out_dir, **extra):
    values = {"OPTICAL": str(optical), "SAR": str(sar), "WEIGHTS": str(weights), "DEVICE": 1,
              "OUTPUT": str(out_dir / "lc.tif")}
    values.update(extra)
    return values


def _fails(parameters, out_dir, *expected, keep=()):
    return segment_fails(parameters, out_dir, *expected, keep=keep)


def _runs(parameters):
    import processing

    feedback = LogFeedback()
    result = processing.run("edc:segment", parameters, feedback=feedback)
    ds = gdal.Open(result["OUTPUT"])
    return result, ds, ds.ReadAsArray(), "\n".join(feedback.messages)


def _sha(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# ------------------------------------------------------------------------------------------ output over an input

# (an output over the weights file is refused by the GeoTIFF suffix check here; tests/unit/inference covers the core)
@pytest.mark.parametrize("which", ["optical", "sar", "optical via a symlink", "confidence on the sar"])
def test_output_over_an_input_is_refused(which, provider, sen12, edc_weights, tmp_path, out_dir):
    weights = tmp_path / "w.pt"
    shutil.copy(edc_weights, weights)
    link = out_dir / "link.tif"
    link.symlink_to(sen12["optical"])
    target = {"optical": sen12["optical"], "sar": sen12["sar"], "weights": weights,
              "optical via a symlink": link, "confidence on the sar": sen12["sar"]}[which]
    before = {p: _sha(p) for p in (sen12["optical"], sen12["sar"], weights)}
    extra = {"CONFIDENCE": str(target)} if which.startswith("confidence") else {"OUTPUT": str(target)}
    what = {"weights": "weights file", "sar": "SAR raster"}.get(which, "SAR raster" if "sar" in which else
                                                                "optical raster")
    _fails(_params(sen12["optical"], sen12["sar"], weights, out_dir, **extra), out_dir, f"is the {what}",
           "would replace the input", "choose another file name", keep=["link.tif"])
    assert {p: _sha(p) for p in before} == before


@pytest.mark.slow
def test_qgis_process_output_over_the_optical_is_refused(qgis_process, sen12, edc_weights):
    before = _sha(sen12["optical"])
    argv, env = qgis_process
    parameters = _params(sen12["optical"], sen12["sar"], edc_weights, sen12["optical"].parent,
                         OUTPUT=str(sen12["optical"]))
    run = subprocess.run(argv + ["run", "edc:segment", "--"] + [f"{k}={v}" for k, v in parameters.items()],
                         env=env, capture_output=True, text=True, timeout=600)
    shown = run.stdout + run.stderr
    assert run.returncode != 0 and "is the optical raster" in shown and "would replace the input" in shown, \
        shown[-3000:]
    assert not any(t in shown for t in TRACEBACK_TEXT)
    assert _sha(sen12["optical"]) == before


# ------------------------------------------------------------------------------------------ georeferencing by GCPs

def test_gcp_only_sar_maps_like_its_georeferenced_original(provider, ssl4eo, default_weights, tmp_path, out_dir):
    """Sentinel-1 VV (dB) as a GRD measurement file has it: GCPs, no geotransform.  The map on the optical grid
    agrees with the map from the georeferenced original on more than 99 % of its pixels."""
    gcp_sar = _gcp_only(ssl4eo["sar"], tmp_path / "vv_gcp.tif")
    ref, ref_ds, ref_map, _ = _runs(_params(ssl4eo["optical"], ssl4eo["sar"], default_weights, out_dir,
                                            OUTPUT=str(out_dir / "ref.tif")))
    result, ds, land_cover, log = _runs(_params(ssl4eo["optical"], gcp_sar, default_weights, out_dir))
    assert ds.GetGeoTransform() == ref_ds.GetGeoTransform() and ds.GetSpatialRef().IsSame(ref_ds.GetSpatialRef())
    assert land_cover.shape == ref_map.shape
    assert 0.02 < (ref_map == 1).mean() < 0.98  # a real map with both classes, not a constant one
    assert (land_cover == ref_map).mean() > 0.99


def test_both_inputs_gcp_only_keep_their_georeferencing(provider, ssl4eo, default_weights, tmp_path, out_dir):
    """Both inputs georeferenced by GCPs only: the output is georeferenced (CRS and geotransform), where the
    optical raster is, not a pixel grid."""
    optical = _gcp_only(ssl4eo["optical"], tmp_path / "s2_gcp.tif")
    sar = _gcp_only(ssl4eo["sar"], tmp_path / "vv_gcp.tif")
    result, ds, land_cover, _ = _runs(_params(optical, sar, default_weights, out_dir))
    original = gdal.Open(str(ssl4eo["optical"]))
    assert ds.GetSpatialRef() is not None and ds.GetSpatialRef().IsSame(original.GetSpatialRef())
    x0, dx, _, y0, _, dy = ds.GetGeoTransform()
    ox, odx, _, oy, _, ody = original.GetGeoTransform()
    assert abs(x0 - ox) < 2 * odx and abs(y0 - oy) < 2 * abs(ody) and dx == pytest.approx(-dy)
    assert (land_cover != 255).mean() > 0.9 and result["VALID_AREA"] > 0


@pytest.fixture
def ombria_pair(shared_data):
    """A real OMBRIA pair (8-bit PNGs without any georeferencing, 256 x 256): S2 false colour (B11, B8, B3), S1 VV."""
    root = shared_data / "ombria"
    s2 = sorted((root / "OmbriaS2" / "test" / "AFTER").glob("*.png"))[0]
    return s2, root / "OmbriaS1" / "test" / "AFTER" / s2.name.replace("S2_", "S1_")


def test_unreferenced_inputs_of_different_sizes_are_refused(provider, ombria_pair, default_weights, tmp_path,
                                                            out_dir):
    optical, sar = ombria_pair
    cropped = tmp_path / "s1_cropped.tif"
    gdal.Translate(str(cropped), str(sar), srcWin=[0, 0, 200, 180])
    _fails(_params(optical, cropped, default_weights, out_dir), out_dir, "no georeferencing and different sizes",
           "256 x 256", "200 x 180", "georeference both")


def test_unreferenced_inputs_of_one_size_give_pixel_counts_and_no_area(provider, ombria_pair, default_weights,
                                                                       out_dir):
    optical, sar = ombria_pair
    result, _, land_cover, log = _runs(_params(optical, sar, default_weights, out_dir))
    stats = json.loads(result["CLASS_STATS"])
    assert sum(s["pixels"] for s in stats) == (land_cover != 255).sum() == result["VALID_PIXELS"]
    assert all(s["area_m2"] is None and s["area_ha"] is None for s in stats) and result["VALID_AREA"] is None
    assert "no coordinate reference system" in log and "no area" in log


# ------------------------------------------------------------------------------------------ true areas

@pytest.mark.parametrize("epsg", [3857, 4326])
def test_areas_are_true_square_metres_in_any_crs(epsg, provider, sen12, edc_weights, tmp_path, out_dir):
    """The real UTM scene and the same scene warped to Web Mercator (where a map unit squared is 0.4 m^2 at 50.8
    degrees north) and to WGS84 (square degrees): the mapped area agrees within 0.5 %, in m^2 and ha."""
    sar_all = tmp_path / "s1_wide.tif"  # the SAR must cover the warped optical footprint: warp it there too
    gdal.Warp(str(sar_all), str(sen12["sar"]), dstSRS=f"EPSG:{epsg}")
    warped = tmp_path / f"s2_{epsg}.tif"
    gdal.Warp(str(warped), str(sen12["optical"]), dstSRS=f"EPSG:{epsg}", dstNodata=0)
    utm, _, utm_map, _ = _runs(_params(sen12["optical"], sen12["sar"], edc_weights, out_dir,
                                       OUTPUT=str(out_dir / "utm.tif")))
    nominal = (utm_map != 255).sum() * 100.0  # 10 m UTM pixels
    assert utm["VALID_AREA"] == pytest.approx(nominal, rel=5e-3)
    result, _, land_cover, log = _runs(_params(warped, sar_all, edc_weights, out_dir))
    assert result["VALID_AREA"] == pytest.approx(utm["VALID_AREA"], rel=5e-3)
    stats = json.loads(result["CLASS_STATS"])
    for s in stats:
        assert s["area_ha"] == pytest.approx(s["area_m2"] / 1e4)
        assert f"{s['name']}: {s['pixels']} pixels, {s['area_ha']:.2f} ha" in log


# ------------------------------------------------------------------------------------------ weights suffixes

@pytest.mark.slow  # an ONNX export and a network run per suffix
@pytest.mark.parametrize("name", ["weights.pth", "weights.PT", "weights.ONNX"])
def test_weights_suffixes_in_any_case(name, provider, sen12, edc_weights, edc_onnx, tmp_path, out_dir):
    weights = tmp_path / name
    shutil.copy(edc_onnx if name.lower().endswith(".onnx") else edc_weights, weights)
    result, _, land_cover, log = _runs(_params(sen12["optical"], sen12["sar"], weights, out_dir))
    assert land_cover.shape == (256, 256) and result["VALID_PIXELS"] > 0
    assert ("Inference device: ONNX Runtime" in log) == name.lower().endswith(".onnx")


def test_weights_with_another_suffix_get_a_message(provider, sen12, edc_weights, tmp_path, out_dir):
    weights = tmp_path / "weights.bin"
    shutil.copy(edc_weights, weights)
    _fails(_params(sen12["optical"], sen12["sar"], weights, out_dir), out_dir, "weights.bin", "does not end in",
           ".pth", ".onnx", "rename it")


@pytest.fixture
def edc_onnx(edc_weights, tmp_path_factory):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from helpers.weights import onnx_copy
    return onnx_copy(edc_weights, tmp_path_factory.mktemp("onnx") / "edc.onnx")


# ------------------------------------------------------------------------------------------ temporary files

def test_stale_temporary_files_are_swept_by_the_next_run(provider, sen12, edc_weights, out_dir):
    old = time.time() - 3 * 24 * 3600
    stale = [out_dir / ".lc.k1ll3d_x.part.tif", out_dir / ".lc.k1ll3d_x.part.tif.aux.xml"]
    recent = out_dir / ".lc.running1.part.tif"  # a run still writing: younger than a day
    for path in stale + [recent]:
        path.write_bytes(b"")
    for path in stale:
        os.utime(path, (old, old))
    _runs(_params(sen12["optical"], sen12["sar"], edc_weights, out_dir))
    assert sorted(p.name for p in out_dir.iterdir()) == sorted([recent.name, "lc.tif", "lc.qml", "lc.tif.aux.xml"])


@pytest.mark.slow
def test_qgis_process_terminated_leaves_no_temporary_file(qgis_process, sen12, edc_weights, tmp_path, out_dir):
    """SIGTERM (a closed session, a job scheduler's time limit) mid-run: the run stops, the previous output stays,
    no hidden .part.tif is left behind."""
    big = tmp_path / "s2_2m.tif"  # the real scene at 2.5 m (1024 x 1024): a run long enough to be stopped
    gdal.Translate(str(big), str(sen12["optical"]), width=1024, height=1024, bandList=[1, 2, 3, 4])
    previous = out_dir / "lc.tif"
    previous.write_bytes(b"previous result")
    argv, env = qgis_process
    parameters = _params(big, sen12["sar"], edc_weights, out_dir, CONFIDENCE=str(out_dir / "conf.tif"),
                         TILE_SIZE=64, OVERLAP=0, BATCH_SIZE=1)
    status, seen = stop_qgis_process_midway(argv, env, parameters, signal.SIGTERM)
    assert status not in (0, None), seen[-2000:]
    assert "SIGTERM" in seen and not any(t in seen for t in TRACEBACK_TEXT), seen[-2000:]
    assert previous.read_bytes() == b"previous result"
    assert sorted(p.name for p in out_dir.iterdir()) == ["lc.tif"]


# ------------------------------------------------------------------------------------------ band descriptions

def test_geopackage_and_snap_band_descriptions_are_not_warned(provider, ssl4eo, default_weights, tmp_path,
                                                               out_dir):
    """A GeoPackage raster's band is described as "Height"; SNAP names VV "Sigma0_VV_db", "Amplitude_VV",
    "Intensity_VV": none of them names another band than the VV the weights expect."""
    gpkg = tmp_path / "vv.gpkg"
    gdal.Translate(str(gpkg), str(ssl4eo["sar"]), format="GPKG")
    assert gdal.Open(str(gpkg)).GetRasterBand(1).GetDescription() == "Height"
    _, _, _, log = _runs(_params(ssl4eo["optical"], gpkg, default_weights, out_dir))
    assert "described as" not in log
    for name in ("Sigma0_VV_db", "Amplitude_VV", "Intensity_VV"):
        snap = tmp_path / f"{name}.tif"
        gdal.Translate(str(snap), str(ssl4eo["sar"]))
        ds = gdal.Open(str(snap), gdal.GA_Update)
        ds.GetRasterBand(1).SetDescription(name)
        ds = None
        _, _, _, log = _runs(_params(ssl4eo["optical"], snap, default_weights, out_dir))
        assert "described as" not in log, name


def test_bands_named_in_the_other_order_are_still_warned(provider, ssl4eo, default_weights, tmp_path, out_dir):
    """Optical bands B3, B8, B11 (named so) where the weights expect B11, B8, B3: the real mistake is warned."""
    stack = gdal.BuildVRT("", [str(ssl4eo["s2"] / f"{b}.tif") for b in ("B3", "B8", "B11")], separate=True,
                          resolution="highest")
    optical = tmp_path / "s2_b3_b8_b11.tif"
    ds = gdal.Translate(str(optical), stack)
    for b, name in enumerate(("B3", "B8", "B11"), 1):
        ds.GetRasterBand(b).SetDescription(name)
    ds = None
    _, _, _, log = _runs(_params(optical, ssl4eo["sar"], default_weights, out_dir))
    assert "band 1 is described as 'B3' but the weights expect 'B11'" in log
    assert "band 3 is described as 'B11' but the weights expect 'B3'" in log
    assert "band 2 is described" not in log
