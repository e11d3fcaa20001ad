"""The readers on the real samples in ../shared/data (skipped when the folder is absent)."""

import numpy as np
import pytest

from model.datasets import IGNORE, detect_kind, open_dataset
from model.datasets import _raster
from model.datasets.m3m_cr import WORLDCOVER_GROUPS

pytestmark = pytest.mark.real_data


def test_ombria_train_and_test(shared_data):
    root = shared_data / "ombria"
    assert detect_kind(root) == "ombria"
    train, test = open_dataset("auto", root, "train"), open_dataset("ombria", root, "test")
    assert (len(train), len(test)) == (624, 70)
    assert [c[0] for c in train.classes] == ["background", "flood water"]
    for reader in (train, test):
        s = reader[len(reader) // 2]
        assert s["optical"].shape == (3, 256, 256) and s["optical"].dtype == np.float32
        assert s["sar"].shape == (1, 256, 256)
        assert s["label"].shape == (256, 256)
        assert set(np.unique(s["label"])) <= {0, 1}
        assert 0 <= s["optical"].min() and s["optical"].max() <= 255
        assert "cloudfree" not in s and "cloud_mask" not in s
    # the label is the 0/255 mask of the same number, as 0/1
    from PIL import Image
    key = train.items[3][3]
    mask = np.array(Image.open(root / "OmbriaS1" / "train" / "MASK" / f"S1_mask_{key}.png"))
    assert np.array_equal(train[3]["label"], (mask == 255).astype(np.int64))


def test_ombria_has_flooded_samples(shared_data):
    test = open_dataset("ombria", shared_data / "ombria", "test")
    flooded = [test[i]["label"].mean() for i in range(0, len(test), 7)]
    assert max(flooded) > 0.05 and min(flooded) < 0.95


@pytest.mark.parametrize("split", ["train", "test"])
def test_m3m_cr_resampled_to_optical_grid(shared_data, split):
    root = shared_data / "m3m_cr"
    assert detect_kind(root) == "m3m_cr"
    reader = open_dataset("m3m_cr", root, split)
    assert len(reader) == 1
    s = reader[0]
    assert s["optical"].shape == (4, 300, 300)
    assert s["cloudfree"].shape == (4, 300, 300)
    assert s["sar"].shape == (2, 300, 300)          # 90 x 90 at 10 m -> optical 3 m grid
    assert s["label"].shape == (300, 300)
    assert s["cloud_mask"].shape == (300, 300) and s["cloud_mask"].dtype == bool
    item = reader.items[0]
    assert s["cloud_mask"].mean() == pytest.approx(np.load(item["cloudmask"]).mean())
    values = set(np.unique(s["label"]).tolist())
    assert values <= set(range(6)) | {IGNORE} and len(values - {IGNORE}) >= 2
    # SAR stays in dB and the class shares survive the 10 m -> 3 m nearest-neighbour resampling; the SAR grid is
    # shifted by 1-2 m from the optical one, so one edge row or column of the optical grid has no SAR coverage: NaN
    # (no data, as inference reads it), not 0 dB
    assert -40 < np.nanmean(s["sar"]) < 5
    uncovered = ~np.isfinite(s["sar"]).all(axis=0)
    assert uncovered.sum() == 300 and (uncovered[:, 0].all() or uncovered[0].all())
    codes = _raster.read(item["landcover"])[0].astype(int)
    for code, cls in WORLDCOVER_GROUPS.items():
        if cls != IGNORE and (codes == code).mean() > 0.1:
            src = np.isin(codes, [c for c, k in WORLDCOVER_GROUPS.items() if k == cls]).mean()
            assert (s["label"] == cls).mean() == pytest.approx(src, abs=0.05)
    # the cloudy image is brighter than the clear one under the cloud mask
    cloud = s["cloud_mask"]
    assert s["optical"][:3, cloud].mean() > s["cloudfree"][:3, cloud].mean()
