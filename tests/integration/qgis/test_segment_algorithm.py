"""edc:segment end to end: processing.run, qgis_process, a graphical model, a background QgsTask, bad inputs."""

import json
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal
from qgis.core import (QgsApplication, QgsPalettedRasterRenderer, QgsProcessingContext,
                       QgsProcessingException, QgsProcessingFeedback, QgsProcessingModelAlgorithm,
                       QgsProcessingOutputLayerDefinition, QgsProject)
from qgis.PyQt.QtCore import QCoreApplication

from helpers.qgis_tasks import LogFeedback, run_in_task

DATA = Path(__file__).parent / "data"


def params(scene, weights, output, **extra):
    return {"OPTICAL": str(scene["optical"]), "SAR": str(scene["sar"]), "WEIGHTS": str(weights),
            "DEVICE": 1, "OUTPUT": str(output), **extra}


def assert_styled_land_cover(path, reference, classes):
    """``path`` is on ``reference``'s grid and carries the class table of the test weights."""
    out, ref = gdal.Open(str(path)), gdal.Open(str(reference))
    assert (out.RasterXSize, out.RasterYSize) == (ref.RasterXSize, ref.RasterYSize)
    assert out.GetGeoTransform() == pytest.approx(ref.GetGeoTransform())
    assert out.GetSpatialRef().IsSame(ref.GetSpatialRef())
    band = out.GetRasterBand(1)
    band.GetMetadata()  # makes GDAL 3.6's GTiff driver load the .aux.xml before GetCategoryNames
    assert band.DataType == gdal.GDT_Byte and band.GetNoDataValue() == 255
    assert band.GetCategoryNames()[:len(classes)] == [name for name, _ in classes]
    table = band.GetColorTable()
    for value, (_, colour) in enumerate(classes):
        assert "#%02x%02x%02x" % table.GetColorEntry(value)[:3] == colour
    return band.ReadAsArray()


def test_processing_run_styled_output_on_optical_grid(provider, scene, edc_weights, edc_classes, tmp_path):
    import processing

    feedback = LogFeedback()
    result = processing.run("edc:segment", params(scene, edc_weights, tmp_path / "lc.tif",
                                                  CONFIDENCE=str(tmp_path / "conf.tif")), feedback=feedback)
    values = assert_styled_land_cover(result["OUTPUT"], scene["optical"], edc_classes)
    assert values.shape == scene["shape"]
    assert (values[scene["nodata_corner"]] == 255).all()
    assert set(np.unique(values[20:, 20:])) <= set(range(len(edc_classes)))
    stats = json.loads(result["CLASS_STATS"])
    assert [s["name"] for s in stats] == [name for name, _ in edc_classes]
    for s in stats:
        assert s["pixels"] == int((values == s["value"]).sum())
        # true areas: a UTM pixel on the central meridian is 1 / 0.9996^2 of its nominal area
        assert s["area_m2"] == pytest.approx(s["pixels"] * scene["pixel_area"], rel=2e-3)
        assert s["area_ha"] == pytest.approx(s["area_m2"] / 1e4)
    assert result["VALID_PIXELS"] == int((values != 255).sum())
    assert result["DEVICE_USED"] and "CPU" in result["DEVICE_USED"].upper()
    assert Path(result["CONFIDENCE"]).is_file() and "CLOUDFREE" not in result
    assert Path(result["OUTPUT"]).with_suffix(".qml").is_file()
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".tif") == ["conf.tif", "lc.tif"]
    log = "\n".join(feedback.messages)
    assert f"Device used: {result['DEVICE_USED']}" in log
    for s in stats:
        assert f"{s['name']}: {s['pixels']} pixels" in log


@pytest.mark.slow
def test_qgis_process_json(qgis_process, scene, edc_weights, edc_classes, tmp_path):
    argv, env = qgis_process
    output = tmp_path / "land_cover.tif"
    run = subprocess.run(argv + ["--json", "run", "edc:segment", "--", f"OPTICAL={scene['optical']}",
                                 f"SAR={scene['sar']}", f"WEIGHTS={edc_weights}", "DEVICE=1", f"OUTPUT={output}",
                                 f"RELIABILITY={tmp_path / 'rel.tif'}", "TILE_SIZE=48", "OVERLAP=6", "BATCH_SIZE=3"],
                         env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    answer = json.loads(run.stdout)
    assert answer["algorithm_details"]["id"] == "edc:segment"
    results = answer["results"]
    assert Path(results["OUTPUT"]) == output and Path(results["RELIABILITY"]).is_file()
    assert {"CLASS_STATS", "VALID_PIXELS", "VALID_AREA", "DEVICE_USED"} <= set(results)
    info, warnings = answer["log"]["info"], answer["log"].get("warning", [])
    assert any("48" in line and "6 px overlap" in line and "batches of 3" in line for line in info), info
    assert f"Device used: {results['DEVICE_USED']}" in info
    assert any("UNTRAINED" in line for line in warnings)  # the test weights are random
    assert_styled_land_cover(output, scene["optical"], edc_classes)


def test_graphical_model_chains_segment_with_native_reclassify(provider, scene, edc_weights, edc_classes, tmp_path):
    import processing

    model = QgsProcessingModelAlgorithm()
    assert model.fromFile(str(DATA / "segment_then_water_mask.model3"))
    result = processing.run(model, {"optical": str(scene["optical"]), "sar": str(scene["sar"]),
                                    "weights": str(edc_weights),
                                    "segment:land_cover": str(tmp_path / "lc.tif"),
                                    "water:water_mask": str(tmp_path / "water.tif")})
    land_cover = assert_styled_land_cover(result["segment:land_cover"], scene["optical"], edc_classes)
    water = gdal.Open(result["water:water_mask"]).ReadAsArray()
    valid = land_cover != 255
    assert np.array_equal(water[valid] == 1, land_cover[valid] == 2)


def test_background_task_adds_styled_layer_to_project(provider, scene, edc_weights, edc_classes, tmp_path):
    """As the Toolbox dialog does: a QgsProcessingAlgRunnerTask, then Processing's result handling."""
    from processing.gui.Postprocessing import handleAlgorithmResults

    project = QgsProject.instance()
    project.removeAllMapLayers()
    alg = QgsApplication.processingRegistry().createAlgorithmById("edc:segment")
    context, feedback = QgsProcessingContext(), QgsProcessingFeedback()
    context.setProject(project)
    output = tmp_path / "task.tif"
    parameters = params(scene, edc_weights, output)
    parameters["OUTPUT"] = QgsProcessingOutputLayerDefinition(str(output), project)
    ok, _, progress = run_in_task(alg, parameters, context, feedback,
                                  on_done=lambda ok, results: ok and handleAlgorithmResults(alg, context, feedback))
    assert ok is True
    assert progress and max(progress) == pytest.approx(100, abs=1)
    layers = [layer for layer in project.mapLayers().values() if Path(layer.source()) == output]
    assert len(layers) == 1
    renderer = layers[0].renderer()
    assert isinstance(renderer, QgsPalettedRasterRenderer)
    assert [(c.value, c.label, c.color.name()) for c in renderer.classes()] == \
        [(i, name, colour) for i, (name, colour) in enumerate(edc_classes)]
    project.removeAllMapLayers()


def _bad(provider, scene, weights, tmp_path, **overrides):
    import processing

    parameters = params(scene, weights, tmp_path / "out.tif")
    parameters.update(overrides)
    with pytest.raises(QgsProcessingException) as error:
        processing.run("edc:segment", parameters)
    message = str(error.value)
    assert "Traceback" not in message and len(message) > 20
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("out")], "a failed run left a file behind"
    return message


def test_missing_weights_file(provider, scene, tmp_path):
    message = _bad(provider, scene, tmp_path / "nowhere.pt", tmp_path)
    assert "nowhere.pt" in message


def test_damaged_weights_file(provider, scene, tmp_path):
    weights = tmp_path / "broken.pt"
    weights.write_bytes(b"not a weights file")
    message = _bad(provider, scene, weights, tmp_path)
    assert "broken.pt" in message


def test_wrong_number_of_bands(provider, scene, edc_weights, tmp_path):
    message = _bad(provider, scene, edc_weights, tmp_path, OPTICAL_BANDS=[1, 2])
    assert "optical" in message.lower()


def test_extent_outside_the_rasters(provider, scene, edc_weights, tmp_path):
    message = _bad(provider, scene, edc_weights, tmp_path, EXTENT="0,10,0,10 [EPSG:32631]")
    assert "extent" in message.lower()


def test_output_must_be_geotiff(provider, scene, edc_weights, tmp_path):
    message = _bad(provider, scene, edc_weights, tmp_path, OUTPUT=str(tmp_path / "out.png"))
    assert "GeoTIFF" in message


def test_missing_bundled_weights_says_what_to_do(provider, scene, tmp_path, monkeypatch):
    import edc.processing_provider.common as module

    monkeypatch.setattr(module, "DEFAULT_WEIGHTS", str(tmp_path / "absent.pt"))
    message = _bad(provider, scene, "", tmp_path)
    assert "Weights file" in message


class CancelAfterFirstBatch(QgsProcessingFeedback):
    def setProgress(self, progress):  # noqa: N802 (QGIS API)
        super().setProgress(progress)
        if progress > 0:
            self.cancel()


def test_cancel_stops_and_leaves_no_file(provider, scene, edc_weights, tmp_path):
    import processing

    feedback = CancelAfterFirstBatch()
    with pytest.raises(QgsProcessingException) as error:
        processing.run("edc:segment", params(scene, edc_weights, tmp_path / "out.tif", TILE_SIZE=32, OVERLAP=4,
                                             BATCH_SIZE=1), feedback=feedback)
    assert feedback.isCanceled() and "cancel" in str(error.value).lower()
    assert list(tmp_path.iterdir()) == []


def test_toolbox_dialog_runs_in_background_task_and_adds_styled_layer(provider, qgis_iface, monkeypatch, scene,
                                                                     edc_weights, edc_classes, tmp_path):
    """The real Processing dialog (what the toolbar button and the Raster menu open), filled in and run."""
    import processing
    from qgis.core import QgsRasterLayer
    from qgis.gui import QgsBrowserGuiModel

    browser = QgsBrowserGuiModel()
    monkeypatch.setattr(qgis_iface, "browserModel", lambda: browser, raising=False)  # not in pytest-qgis's stub
    project = QgsProject.instance()
    project.removeAllMapLayers()
    optical, sar = QgsRasterLayer(str(scene["optical"]), "optical"), QgsRasterLayer(str(scene["sar"]), "sar")
    project.addMapLayers([optical, sar])
    tasks = []
    QgsApplication.taskManager().taskAdded.connect(tasks.append)
    dialog = processing.createAlgorithmDialog("edc:segment", {})
    output = tmp_path / "dialog.tif"
    context = QgsProcessingContext()
    for name, value in {"OPTICAL": optical.id(), "SAR": sar.id(), "WEIGHTS": str(edc_weights), "DEVICE": 1,
                        "OUTPUT": str(output)}.items():
        dialog.mainWidget().wrappers[name].setParameterValue(value, context)
    dialog.runAlgorithm()
    deadline = time.monotonic() + 300
    layers = []
    while not layers and time.monotonic() < deadline:
        QCoreApplication.processEvents()
        time.sleep(0.01)
        layers = [layer for layer in project.mapLayers().values() if Path(layer.source()) == output]
    dialog.close()
    QgsApplication.taskManager().taskAdded.disconnect(tasks.append)
    assert tasks, "the dialog did not run the algorithm as a background task"
    assert len(layers) == 1 and isinstance(layers[0].renderer(), QgsPalettedRasterRenderer)
    assert [c.label for c in layers[0].renderer().classes()] == [name for name, _ in edc_classes]
    project.removeAllMapLayers()


def test_onnx_weights_on_the_cpu_use_int8_unless_switched_off(provider, scene, edc_weights, tmp_path):
    """CPU_INT8 (advanced, on by default) decides the CPU session's matrix products; the log and DEVICE_USED say
    which, and both maps agree but for a few pixels."""
    pytest.importorskip("onnx")
    import processing

    from helpers.weights import onnx_copy
    weights = onnx_copy(edc_weights, tmp_path / "tiny.onnx")
    default = processing.run("edc:segment", params(scene, weights, tmp_path / "int8.tif"))
    exact = processing.run("edc:segment", params(scene, weights, tmp_path / "float.tif", CPU_INT8=False))
    assert default["DEVICE_USED"] == "ONNX Runtime CPUExecutionProvider (int8 matrix products)"
    assert exact["DEVICE_USED"] == "ONNX Runtime CPUExecutionProvider (float32 matrix products)"
    a, b = (gdal.Open(str(r["OUTPUT"])).ReadAsArray() for r in (default, exact))
    assert (a == 255).sum() == (b == 255).sum() and np.mean(a == b) > 0.95
