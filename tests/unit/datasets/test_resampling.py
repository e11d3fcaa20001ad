"""The readers put SAR, labels and masks onto the optical grid by the rule of inference (``model.geo.warp``)."""

import numpy as np
from helpers.datasets import generic_folder
from helpers.rasters import write_raster

from model.datasets import open_dataset


def test_finer_sar_is_averaged_onto_the_optical_grid(tmp_path):
    """SAR pixels a quarter of the optical pixel: each optical pixel gets the mean of its 16 SAR pixels, as
    edc:segment computes it (bilinear sampling would pick values near the centre)."""
    root = generic_folder(tmp_path, n=1, size=8)
    sar = np.random.default_rng(0).normal(-10, 3, (2, 32, 32)).astype(np.float32)
    write_raster(root / "sar" / "s0.tif", sar, pixel=2.5)
    got = open_dataset("generic", root)[0]["sar"]
    expected = sar.reshape(2, 8, 4, 8, 4).mean(axis=(2, 4))
    assert got.shape == (2, 8, 8)
    assert np.allclose(got, expected, atol=1e-4)


def test_coarser_labels_keep_their_classes(tmp_path):
    root = generic_folder(tmp_path, n=1, size=16, sar_pixel=20.0)
    write_raster(root / "label" / "s0.tif", np.kron(np.array([[0, 1], [1, 0]], np.uint8), np.ones((2, 2), np.uint8)),
                 pixel=40.0)
    s = open_dataset("generic", root)[0]
    assert set(np.unique(s["label"]).tolist()) == {0, 1}                     # nearest: no mixed values
    assert (s["label"][:8, :8] == 0).all() and (s["label"][:8, 8:] == 1).all()
    assert s["sar"].shape == (2, 16, 16) and np.isfinite(s["sar"]).all()
