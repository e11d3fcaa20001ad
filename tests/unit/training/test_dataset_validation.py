"""The whole dataset is checked before the first epoch (labels whole numbers within the classes, coverage), and
pixels without SAR data are nodata in training exactly as in inference.  Cases built from the real M3M-CR quartet
(../shared/data) copied into a generic-layout folder and altered; synthetic ones for the details."""

import numpy as np
import pytest
from helpers.datasets import generic_folder, real_generic_folder, rewrite_raster
from helpers.rasters import read_raster

from model.datasets import IGNORE, open_dataset
from model.errors import EDCDatasetError
from model.training import TrainOptions


def _trainer(root, tmp_path, logs=None):
    from model.training.loop import Trainer
    opts = TrainOptions(data=str(root), dataset="generic", out=str(tmp_path / "run"), preset="tiny", epochs=1,
                        teacher_epochs=0, val_fraction=0, threads=1, progress_bar=False)
    return Trainer(opts, log=(logs.append if logs is not None else None))


def _crop_sar(path, tmp_path, window=(0, 0, 45, 90), shift=0.0):
    """Replace the SAR raster ``path`` by its pixel ``window`` (x, y, width, height), moved ``shift`` m east."""
    from osgeo import gdal
    tmp = tmp_path / "cropped.tif"
    ds = gdal.Translate(str(tmp), str(path), srcWin=list(window))
    gt = list(ds.GetGeoTransform())
    gt[0] += shift
    ds.SetGeoTransform(gt)
    ds = None
    path.unlink()
    tmp.rename(path)


@pytest.mark.real_data
def test_fractional_float_labels_fail_before_the_first_epoch(shared_data, tmp_path):
    root = real_generic_folder(tmp_path / "g", shared_data, n=2)
    label = read_raster(root / "label" / "s1.tif")[0]
    soft = np.where(label % 2 == 1, 0.9, 0.1).astype(np.float32)       # probabilities, not classes
    rewrite_raster(root / "label" / "s1.tif", soft)
    open_dataset("generic", root)          # the first sample is fine: only the pass over all samples sees it
    with pytest.raises(EDCDatasetError) as err:
        _trainer(root, tmp_path)
    message = str(err.value)
    assert "label" in message and "s1.tif" in message and "(0.1, 0.9; 8100 pixels)" in message
    assert "not whole class numbers" in message
    assert not (tmp_path / "run" / "log.csv").exists()


@pytest.mark.real_data
def test_half_covering_sar_is_nodata_in_training_as_in_inference(shared_data, tmp_path):
    from model.geo.grid import Grid
    from model.geo.rasters import open_raster
    from model.geo.readers import WarpedReader
    from model.training.data import normalization_spec
    from model.training.samples import TrainingSet
    root = real_generic_folder(tmp_path / "g", shared_data, n=1)
    _crop_sar(root / "sar" / "s0.tif", tmp_path)              # the SAR covers the western half of the sample
    reader = open_dataset("generic", root)
    sample = reader[0]
    no_sar = ~np.isfinite(sample["sar"]).all(axis=0)
    assert 0.45 < no_sar.mean() < 0.55 and no_sar[:, 160:].all()      # no data there, not 0 dB
    # the same pixels as inference's SAR reader on the optical grid, with the same values elsewhere
    opt = open_raster(root / "optical" / "s0.tif", "optical")
    grid = Grid(tuple(opt.GetGeoTransform()), opt.GetProjection(), opt.RasterXSize, opt.RasterYSize)
    sar = open_raster(root / "sar" / "s0.tif", "SAR")
    warped = WarpedReader(sar, [1, 2], grid, threads="1")
    data, valid = warped.read(0, grid.height, grid.width)
    del warped, sar                       # the warped view before its source dataset (GDAL)
    assert np.array_equal(valid, ~no_sar)
    assert np.allclose(data[:, valid], sample["sar"][:, valid])
    # training: statistics over the covered pixels, both inputs 0 and the label ignored where the SAR has no data
    spec = normalization_spec(TrainOptions(data=""))
    item = TrainingSet(reader, spec)[0]
    assert (item["label"].numpy()[no_sar] == IGNORE).all()
    assert (item["sar"].numpy()[:, no_sar] == 0).all() and (item["optical"].numpy()[:, no_sar] == 0).all()
    covered = sample["sar"][:, ~no_sar]
    low, high = np.percentile(covered.astype(np.float64), [2, 98], axis=1)
    expected = (covered - low[:, None].astype(np.float32)) / (high - low)[:, None].astype(np.float32)
    assert np.allclose(item["sar"].numpy()[:, ~no_sar], expected, atol=1e-5)
    assert (item["label"].numpy()[~no_sar] == sample["label"][~no_sar]).all()
    from model.training.data import validate_dataset
    logs = []
    counts = validate_dataset(reader, log=logs.append)
    assert counts["partial"] == 1 and "no data on 5" in " ".join(logs) and "s0.tif" in " ".join(logs)


@pytest.mark.real_data
def test_sar_covering_nothing_fails_before_the_first_epoch(shared_data, tmp_path):
    root = real_generic_folder(tmp_path / "g", shared_data, n=2)
    _crop_sar(root / "sar" / "s1.tif", tmp_path, window=(0, 0, 90, 90), shift=5000.0)   # 5 km east of the optical
    with pytest.raises(EDCDatasetError, match=r"the SAR raster '.*sar/s1\.tif' has no data anywhere on the sample's "
                                              r"optical grid .* remove this sample or give a SAR raster that covers"):
        _trainer(root, tmp_path)


def test_validation_logs_progress_and_passes_valid_sets(tmp_path):
    from model.training.data import validate_dataset
    reader = open_dataset("generic", generic_folder(tmp_path / "g", n=3))
    logs = []
    assert validate_dataset(reader, log=logs.append) == {"samples": 3, "partial": 0, "no_data_pixels": 0,
                                                         "unlabelled": 0}
    assert logs[0].startswith("Checking the 3 training samples") and logs[-1].startswith("Checked 3 training")


def test_fully_valid_samples_are_normalised_as_before(tmp_path):
    """No pixel without data: the statistics and inputs are those of the whole image, as before the change."""
    from model import normalization
    from model.training.data import normalization_spec
    from model.training.samples import TrainingSet
    reader = open_dataset("generic", generic_folder(tmp_path / "g", n=1))
    spec = normalization_spec(TrainOptions(data=""))
    sample, item = reader[0], TrainingSet(reader, spec)[0]
    for key in ("optical", "sar"):
        stats = normalization.compute_stats(sample[key], np.ones(sample[key].shape[1:], bool), spec[key])
        assert np.array_equal(item[key].numpy(), normalization.normalize(sample[key], stats))
    assert np.array_equal(item["label"].numpy(), sample["label"])


def test_band_names_must_match_the_rasters(tmp_path):
    import json
    root = generic_folder(tmp_path / "g", n=1)
    (root / "classes.json").write_text(json.dumps({"classes": [{"name": "a"}, {"name": "b"}],
                                                   "sar_bands": ["VV"]}))
    with pytest.raises(EDCDatasetError, match=r"classes\.json' lists 1 sar_bands but '.*s0\.tif' has 2 bands"):
        open_dataset("generic", root)
