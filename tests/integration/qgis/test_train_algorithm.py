"""edc:train: trains in a background task, writes weights that edc:segment uses; cancel; bad folders."""

import numpy as np
import pytest
from helpers.datasets import generic_folder
from osgeo import gdal
from qgis.core import QgsApplication, QgsProcessingContext, QgsProcessingException, QgsProcessingFeedback
from helpers.qgis_tasks import run_in_task


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """Generic layout, 6 samples 48 x 48, 4 optical and 2 SAR bands; water (class 1) darker in the optical bands."""
    return generic_folder(tmp_path_factory.mktemp("dataset"), n=6, size=48, n_optical=4)


def _params(dataset, output, **extra):
    return {"DATASET": str(dataset), "KIND": 0, "PRESET": 0, "EPOCHS": 2, "TEACHER_EPOCHS": 1, "BATCH_SIZE": 2,
            "CROP": 32, "DEVICE": 1, "OUTPUT": str(output), **extra}


def test_registered(provider):
    alg = provider.algorithm("train")
    assert alg is not None and alg.id() == "edc:train"
    assert "dataset folder" in alg.shortHelpString().lower()


@pytest.mark.slow
def test_background_training_gives_weights_for_segment(provider, dataset, scene, tmp_path):
    import processing
    from model.weights import open_weights

    alg = QgsApplication.processingRegistry().createAlgorithmById("edc:train")
    context, feedback = QgsProcessingContext(), QgsProcessingFeedback()
    weights = tmp_path / "mine.pt"
    ok, results, progress = run_in_task(alg, _params(dataset, weights), context, feedback, timeout=600)
    assert ok, feedback.textLog()
    assert results["OUTPUT"] == str(weights) and weights.is_file()
    assert max(progress) == pytest.approx(100, abs=1)
    assert (tmp_path / "mine_run" / "log.csv").is_file() and (tmp_path / "mine_run" / "checkpoint.pt").is_file()
    meta = open_weights(weights).metadata
    assert meta["trained"] and [c["name"] for c in meta["classes"]] == ["land", "water"]
    assert len(meta["inputs"]["optical"]["bands"]) == 4 and len(meta["inputs"]["sar"]["bands"]) == 2

    segmented = processing.run("edc:segment", {"OPTICAL": str(scene["optical"]), "SAR": str(scene["sar"]),
                                               "WEIGHTS": str(weights), "DEVICE": 1,
                                               "OUTPUT": str(tmp_path / "lc.tif")})
    values = gdal.Open(segmented["OUTPUT"]).ReadAsArray()
    assert set(np.unique(values)) <= {0, 1, 255}


@pytest.mark.slow
def test_cancel_stops_and_keeps_no_weights(provider, dataset, tmp_path):
    import processing

    feedback = QgsProcessingFeedback()
    feedback.progressChanged.connect(lambda _: feedback.cancel())
    with pytest.raises(QgsProcessingException, match="Training cancelled.*Resume"):
        processing.run("edc:train", _params(dataset, tmp_path / "w.pt"), feedback=feedback)
    assert not (tmp_path / "w.pt").exists()


def test_bad_dataset_folder(provider, tmp_path):
    import processing

    (tmp_path / "empty").mkdir()
    with pytest.raises(QgsProcessingException) as error:
        processing.run("edc:train", _params(tmp_path / "empty", tmp_path / "w.pt"))
    message = str(error.value)
    assert "Cannot tell which kind of dataset" in message and "Traceback" not in message
    assert not (tmp_path / "w.pt").exists()


def test_default_parameters_are_the_training_scripts_defaults(provider, dataset, tmp_path):
    """Advanced parameters left alone give the same recipe as ``python -m model.train`` without options."""
    from model.training import TrainOptions

    alg = QgsApplication.processingRegistry().createAlgorithmById("edc:train")
    opts = alg.options({"DATASET": str(dataset), "OUTPUT": str(tmp_path / "w.pt")}, QgsProcessingContext())
    cli = TrainOptions(data=str(dataset))
    for field in ("preset", "batch_size", "crop", "lr", "cloud_probability", "max_cloud_coverage", "seed",
                  "w_distill", "teacher_epochs", "train_split"):
        assert getattr(opts, field) == getattr(cli, field), field
    # the SAR stream width defaults to the presets' own (0.5 of the optical stream)
    from model.network.config import PRESETS, sar_dims_for
    from model.vocabulary import SAR_WIDTH_RANGE
    assert sar_dims_for(PRESETS[opts.preset], opts.sar_width) == PRESETS[opts.preset]["sar_dims"]
    # the parameter accepts exactly the range the training script accepts
    sar_width = alg.parameterDefinition("SAR_WIDTH")
    assert (sar_width.minimum(), sar_width.maximum()) == SAR_WIDTH_RANGE
    changed = alg.options({"DATASET": str(dataset), "OUTPUT": str(tmp_path / "w.pt"), "MAX_CLOUD_COVER": 0.9,
                           "CLOUDS": 0.5, "SAR_WIDTH": 1.0}, QgsProcessingContext())
    assert changed.max_cloud_coverage == 0.9 and changed.cloud_probability == 0.5 and changed.sar_width == 1.0
    baseline = alg.options({"DATASET": str(dataset), "OUTPUT": str(tmp_path / "w.pt"), "ARCHITECTURE": 4,
                            "SAR_WIDTH": 1.0}, QgsProcessingContext())
    assert baseline.architecture != "edc" and baseline.sar_width is None
