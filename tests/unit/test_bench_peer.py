"""bench/peer.py (EDC against its forward passes alone and against Deepness) without Deepness: the generated scene,
the peak memory of a child process, the agreement and the table, the Deepness model of the default weights, and
one whole run through main() on a 128 px scene (where .build/qgis_process exists)."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from bench import common, peer
from bench.common import DEFAULT_ONNX


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    folder = tmp_path_factory.mktemp("peer")
    return folder, peer.make_peer_scene(folder, 128)


def test_scene_rasters_share_one_grid_and_the_stacked_one_holds_the_same_values(scene):
    from osgeo import gdal
    _, (optical, sar, stacked) = scene
    opened = [gdal.Open(str(p)) for p in (optical, sar, stacked)]
    assert [d.RasterCount for d in opened] == [3, 1, 4]
    assert [gdal.GetDataTypeName(d.GetRasterBand(1).DataType) for d in opened] == ["UInt16", "Float32", "Float32"]
    assert len({d.GetGeoTransform() for d in opened}) == 1 and len({d.GetProjection() for d in opened}) == 1
    opt, sar_values, both = (d.ReadAsArray() for d in opened)
    np.testing.assert_array_equal(both[:3], opt.astype(np.float32))
    np.testing.assert_array_equal(both[3], sar_values)
    water = sar_values < -14  # water is dark in the SAR and in the near and short-wave infrared
    assert 0.05 < water.mean() < 0.95
    assert opt[1][water].mean() < 0.3 * opt[1][~water].mean()


def test_each_timed_run_starts_without_the_side_files_qgis_leaves(tmp_path):
    raster = tmp_path / "optical.tif"
    raster.write_bytes(b"")
    side = tmp_path / "optical.tif.aux.xml"
    side.write_text("<PAMDataset/>")
    peer.as_new(raster, tmp_path / "sar.tif")
    assert raster.exists() and not side.exists()


def test_the_peak_memory_is_the_childs_own_not_this_process_high_water_mark(tmp_path):
    if not Path(common.TIME).exists():
        pytest.skip("GNU time (/usr/bin/time, package time) is not installed")
    held = np.ones(300 * 2 ** 20 // 8)  # this process: 300 MiB more than the child will ever hold
    code = "import numpy as np; a = np.ones(100 * 2 ** 20 // 8); a += 1"
    seconds, peak, rc = common.timed_child([sys.executable, "-c", code], tmp_path / "child.log")
    assert rc == 0 and seconds > 0
    assert 100 < peak < 250, peak
    held += 1


def test_agreement_leaves_the_border_out_and_compares_deepness_class_plus_one(tmp_path):
    from osgeo import gdal
    edc = np.zeros((40, 40), np.uint8)
    edc[:, 20:] = 1
    deepness = edc + 1
    deepness[:5] = 2  # differs in the border only
    deepness[20, 10] = 2  # one interior pixel differs
    path = tmp_path / "edc.tif"
    raster = gdal.GetDriverByName("GTiff").Create(str(path), 40, 40, 1, gdal.GDT_Byte)
    raster.GetRasterBand(1).WriteArray(edc)
    raster = None
    np.save(tmp_path / "peer.npy", deepness)
    assert peer.agreement(path, tmp_path / "peer.npy", 10) == pytest.approx(100.0 * (1 - 1 / 400))


def test_table_shows_the_medians_ratios_and_dashes_where_deepness_was_not_run():
    rows = [{"size": 2048, "edc": 8.0, "forward": 5.0, "edc_over_forward": 1.6, "deepness": 10.0,
             "edc_over_deepness": 0.8, "edc_mib": 500.0, "deepness_mib": 1000.0, "mib_ratio": 0.5,
             "agreement_pct": 99.987},
            {"size": 4096, "edc": 20.0, "forward": 19.0, "edc_over_forward": 20 / 19, "deepness": None,
             "edc_over_deepness": None, "edc_mib": 600.0, "deepness_mib": None, "mib_ratio": None,
             "agreement_pct": None}]
    lines = peer.table(rows).splitlines()
    assert lines[2] == "| 2048^2 | 8.0 | 5.0 | 1.60 | 10.0 | 0.80 | 500 | 1000 | 0.50 | 99.99 |"
    assert lines[3] == "| 4096^2 | 20.0 | 19.0 | 1.05 | - | - | 600 | - | - | - |"
    assert peer.verdicts(rows) == ["end to end / forward alone at 2048^2 and above: worst 1.60 (target <= 1.1): MISS",
                                   "EDC / Deepness time: worst 0.80 (target <= 0.75): MISS"]
    rows[0].update(edc=5.2, edc_over_forward=1.04, edc_over_deepness=0.52)
    assert [line[-4:] for line in peer.verdicts(rows)] == ["PASS", "PASS"]
    assert peer.verdicts([dict(rows[0], size=1024)]) == ["EDC / Deepness time: worst 0.52 (target <= 0.75): PASS"]


def test_deepness_model_gives_the_probabilities_of_edc_on_the_same_pixels(scene, tmp_path):
    """What Deepness does to the stacked raster's values (x / 255, then its standardisation from the model's
    metadata, NHWC -> NCHW) followed by the wrapper graph equals edc:segment's normalisation and network."""
    import onnxruntime as ort
    from osgeo import gdal

    from bench.deepness import INPUT, export_wrapper
    from model import normalization
    from model.inference.runtime import load_predictor
    from model.weights import open_weights
    _, (optical, sar, stacked) = scene
    opt_stats, sar_stats = peer.edc_statistics(optical, sar, DEFAULT_ONNX)
    tile = open_weights(DEFAULT_ONNX).metadata["tile_size"]
    model = export_wrapper(DEFAULT_ONNX, opt_stats, sar_stats, tmp_path / "deepness.onnx")
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    meta = {k: json.loads(v) for k, v in session.get_modelmeta().custom_metadata_map.items()}
    assert meta["model_type"] == "Segmentor" and meta["class_names"] == {"0": "background", "1": "flood water"}
    assert meta["tile_size"] == tile and session.get_inputs()[0].shape == [1, 4, tile, tile]

    values = np.zeros((tile, tile, 4), np.float32)  # a tile reaching past the 128 px scene, as Deepness reads it
    values[:128, :128] = gdal.Open(str(stacked)).ReadAsArray().transpose(1, 2, 0)
    x = (np.float32(values[None] * (1.0 / 255.0)) - np.float32(meta["standardization_mean"])) / \
        np.float32(meta["standardization_std"])
    theirs = session.run(None, {INPUT: x.transpose(0, 3, 1, 2)})[0]
    chw = values.transpose(2, 0, 1)
    ours = load_predictor(open_weights(DEFAULT_ONNX), "cpu", None, ("probabilities",), int8=False).predict(
        normalization.normalize(chw[:3], opt_stats)[None], normalization.normalize(chw[3:], sar_stats)[None])
    np.testing.assert_allclose(theirs, ours["probabilities"], atol=1e-4)


@pytest.mark.slow  # starts qgis_process (about 7 s on an idle 2-core machine)
def test_main_runs_edc_and_the_forward_passes_and_appends_json(tmp_path, capsys):
    if not peer.QGIS_PROCESS.exists():
        pytest.skip(f"{peer.QGIS_PROCESS} is missing (make plugin)")
    rows = peer.main(["--sizes", "128", "--repeats", "1", "--workdir", str(tmp_path), "--json-out",
                      str(tmp_path / "results.json")])
    row = rows[0]
    assert row["tiles"] == 1 and row["edc"] > row["forward"] > 0
    assert row["edc_over_forward"] == pytest.approx(row["edc"] / row["forward"])
    assert row["deepness"] is None and row["agreement_pct"] is None
    assert row["edc_mib"] is None or 100 < row["edc_mib"] < 4000
    saved = json.loads((tmp_path / "results.json").read_text().splitlines()[-1])
    assert saved["rows"][0]["size"] == 128 and "cores" in saved["header"]
    assert "| 128^2 |" in capsys.readouterr().out


@pytest.mark.slow  # starts qgis_process
def test_edc_tile_runs_edc_and_its_forward_passes_on_that_tile_size(tmp_path):
    if not peer.QGIS_PROCESS.exists():
        pytest.skip(f"{peer.QGIS_PROCESS} is missing (make plugin)")
    row = peer.main(["--sizes", "256", "--repeats", "1", "--workdir", str(tmp_path), "--edc-tile", "128"])[0]
    assert row["tiles"] == 9  # 128 px tiles, 32 px overlap: starts 0, 96, 128 on each axis
    assert "tiles of 128 x 128" in (tmp_path / "edc_segment.log").read_text()
