"""Readers on small synthetic folders: WHU-OPT-SAR and generic layouts, and every kind of broken folder."""

import numpy as np
import pytest
from helpers.datasets import generic_folder, ombria_folder, whu_folder
from helpers.rasters import write_raster

from model.datasets import detect_kind, open_dataset
from model.errors import EDCDatasetError


def test_whu_opt_sar_labels_become_eight_classes(tmp_path):
    label = (np.arange(32 * 32).reshape(32, 32) % 8) * 10
    whu_folder(tmp_path, [label], pixel=5, sar_pixel=10)
    assert detect_kind(tmp_path) == "whu_opt_sar"
    reader = open_dataset("auto", tmp_path)
    s = reader[0]
    assert reader.num_classes == 8
    assert s["optical"].shape == (4, 32, 32) and s["sar"].shape == (1, 32, 32)
    assert np.array_equal(s["label"], label // 10)


def test_whu_opt_sar_bad_label_values(tmp_path):
    label = np.full((32, 32), 10)
    label[0, 0] = 15
    whu_folder(tmp_path, [label], pixel=5, sar_pixel=10)
    with pytest.raises(EDCDatasetError, match=r"values \[15\].*0, 10, 20"):
        open_dataset("whu_opt_sar", tmp_path)[0]


def _generic(root, label):
    return generic_folder(root, n=1, label=label, classes=("land", "water"))


def test_generic_layout_resamples_sar(tmp_path):
    label = np.zeros((40, 40))
    label[:, 20:] = 1
    label[0, :5] = 255
    _generic(tmp_path, label)
    assert detect_kind(tmp_path) == "generic"
    reader = open_dataset("auto", tmp_path)
    s = reader[0]
    assert reader.classes == (("land", "#336699"), ("water", "#336699"))
    assert reader.optical_bands == ("optical 1", "optical 2", "optical 3") and len(reader.sar_bands) == 2
    assert s["sar"].shape == (2, 40, 40) and s["label"][0, 0] == 255 and s["label"][5, 30] == 1


def test_label_outside_classes(tmp_path):
    label = np.zeros((40, 40))
    label[3, 3] = 7
    _generic(tmp_path, label)
    with pytest.raises(EDCDatasetError, match=r"label values \[7\] are outside the 2 classes"):
        open_dataset("generic", tmp_path)


def test_unpaired_files(tmp_path):
    _generic(tmp_path, np.zeros((40, 40)))
    write_raster(tmp_path / "optical" / "lonely.tif", np.zeros((3, 40, 40), np.uint16))
    with pytest.raises(EDCDatasetError, match=r"1 optical file\(s\) have no partner \(e.g. 'lonely'\)"):
        open_dataset("generic", tmp_path)


def test_unreadable_raster_is_named(tmp_path):
    _generic(tmp_path, np.zeros((40, 40)))
    (tmp_path / "sar" / "s0.tif").write_text("not a raster")
    with pytest.raises(EDCDatasetError, match="s0.tif"):
        open_dataset("generic", tmp_path)


def test_missing_classes_json_and_empty_folders(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(EDCDatasetError, match="Cannot tell which kind of dataset"):
        open_dataset("auto", tmp_path / "empty")
    with pytest.raises(EDCDatasetError, match="has no classes.json"):
        open_dataset("generic", tmp_path / "empty")
    with pytest.raises(EDCDatasetError, match="Found no ombria samples"):
        open_dataset("ombria", tmp_path / "empty", "train")
    with pytest.raises(EDCDatasetError, match="does not exist"):
        open_dataset("m3m_cr", tmp_path / "nowhere")


def test_ombria_bad_mask_and_unpaired(tmp_path):
    ombria_folder(tmp_path / "a", mask_values=(0, 128))
    with pytest.raises(EDCDatasetError, match=r"values \[128\].*0 \(background\) and 255"):
        reader = open_dataset("ombria", tmp_path / "a", "train")
        [reader[i] for i in range(len(reader))]
    ombria_folder(tmp_path / "b")
    (tmp_path / "b" / "OmbriaS1" / "train" / "AFTER" / "S1_after_0002.png").unlink()
    with pytest.raises(EDCDatasetError, match=r"S2 image file\(s\) have no partner \(e.g. '0002'\)"):
        open_dataset("ombria", tmp_path / "b", "train")
