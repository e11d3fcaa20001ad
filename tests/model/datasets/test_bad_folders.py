"""Readers on small synthetic folders: WHU-OPT-SAR and generic layouts, and every kind of broken folder."""

import json

import numpy as np
import pytest
from PIL import Image

from model.datasets import detect_kind, open_dataset
from model.errors import EDCDatasetError


def _whu(write_tif, root, label):
    rng = np.random.default_rng(0)
    write_tif(root / "optical" / "a.tif", rng.integers(0, 255, (4, 32, 32)).astype(np.uint8), pixel=5)
    write_tif(root / "sar" / "a.tif", rng.normal(size=(1, 16, 16)).astype(np.float32), pixel=10)
    write_tif(root / "lbl" / "a.tif", label.astype(np.uint8), pixel=5)


def test_whu_opt_sar_labels_become_eight_classes(tif, tmp_path):
    label = (np.arange(32 * 32).reshape(32, 32) % 8) * 10
    _whu(tif, tmp_path, label)
    assert detect_kind(tmp_path) == "whu_opt_sar"
    reader = open_dataset("auto", tmp_path)
    s = reader[0]
    assert reader.num_classes == 8
    assert s["optical"].shape == (4, 32, 32) and s["sar"].shape == (1, 32, 32)
    assert np.array_equal(s["label"], label // 10)


def test_whu_opt_sar_bad_label_values(tif, tmp_path):
    label = np.full((32, 32), 10)
    label[0, 0] = 15
    _whu(tif, tmp_path, label)
    with pytest.raises(EDCDatasetError, match=r"values \[15\].*0, 10, 20"):
        open_dataset("whu_opt_sar", tmp_path)[0]


def _generic(write_tif, root, label, classes=("land", "water"), sar_pixel=20):
    rng = np.random.default_rng(1)
    (root / "classes.json").parent.mkdir(parents=True, exist_ok=True)
    (root / "classes.json").write_text(json.dumps([{"name": n, "color": "#00ff00"} for n in classes]))
    write_tif(root / "optical" / "s1.tif", rng.integers(0, 3000, (3, 40, 40)).astype(np.uint16))
    write_tif(root / "sar" / "s1.tif", rng.normal(size=(2, 20, 20)).astype(np.float32), pixel=sar_pixel)
    write_tif(root / "label" / "s1.tif", label.astype(np.uint8))


def test_generic_layout_resamples_sar(tif, tmp_path):
    label = np.zeros((40, 40))
    label[:, 20:] = 1
    label[0, :5] = 255
    _generic(tif, tmp_path, label)
    assert detect_kind(tmp_path) == "generic"
    reader = open_dataset("auto", tmp_path)
    s = reader[0]
    assert reader.classes == (("land", "#00ff00"), ("water", "#00ff00"))
    assert reader.optical_bands == ("optical 1", "optical 2", "optical 3") and len(reader.sar_bands) == 2
    assert s["sar"].shape == (2, 40, 40) and s["label"][0, 0] == 255 and s["label"][5, 30] == 1


def test_label_outside_classes(tif, tmp_path):
    label = np.zeros((40, 40))
    label[3, 3] = 7
    _generic(tif, tmp_path, label)
    with pytest.raises(EDCDatasetError, match=r"label values \[7\] are outside the 2 classes"):
        open_dataset("generic", tmp_path)


def test_unpaired_files(tif, tmp_path):
    _generic(tif, tmp_path, np.zeros((40, 40)))
    tif(tmp_path / "optical" / "lonely.tif", np.zeros((3, 40, 40), np.uint16))
    with pytest.raises(EDCDatasetError, match=r"1 optical file\(s\) have no partner \(e.g. 'lonely'\)"):
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


def _ombria(root, mask_values=(0, 255), n=2):
    for i in range(1, n + 1):
        for sensor, kind, array in (("S1", "AFTER", np.zeros((16, 16), np.uint8)),
                                    ("S2", "AFTER", np.zeros((16, 16, 3), np.uint8)),
                                    ("S1", "MASK", np.full((16, 16), mask_values[i % len(mask_values)], np.uint8))):
            name = f"{sensor}_{'after' if kind == 'AFTER' else 'mask'}_{i:04d}.png"
            folder = root / f"Ombria{sensor}" / "train" / kind
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(array).save(folder / name)


def test_ombria_bad_mask_and_unpaired(tmp_path):
    _ombria(tmp_path / "a", mask_values=(0, 128))
    with pytest.raises(EDCDatasetError, match=r"values \[128\].*0 \(background\) and 255"):
        reader = open_dataset("ombria", tmp_path / "a", "train")
        [reader[i] for i in range(len(reader))]
    _ombria(tmp_path / "b")
    (tmp_path / "b" / "OmbriaS1" / "train" / "AFTER" / "S1_after_0002.png").unlink()
    with pytest.raises(EDCDatasetError, match=r"S2 image file\(s\) have no partner \(e.g. '0002'\)"):
        open_dataset("ombria", tmp_path / "b", "train")
