"""Normalisation: robust percentile scaling over valid pixels, fixed mean/std, exact inverse."""

import numpy as np
import pytest

from model.normalization import compute_stats, denormalize, normalize

PCT = {"method": "percentile", "low": 2, "high": 98}


def test_percentile_maps_low_high_to_0_1_using_valid_pixels_only():
    rng = np.random.default_rng(0)
    array = rng.uniform(100, 200, size=(2, 50, 60)).astype(np.float32)
    valid = np.ones((50, 60), bool)
    valid[:10] = False
    array[:, :10] = 60000  # nodata fill must not move the statistics
    stats = compute_stats(array, valid, PCT)
    out = normalize(array, stats)
    for b in range(2):
        assert np.percentile(out[b][valid], 2) == pytest.approx(0, abs=1e-5)
        assert np.percentile(out[b][valid], 98) == pytest.approx(1, abs=1e-5)
    assert out.dtype == np.float32 and out[:, :10].min() > 100  # not clipped
    np.testing.assert_allclose(denormalize(out, stats), array, rtol=1e-5)


def test_constant_band_and_empty_mask_do_not_divide_by_zero():
    array = np.full((1, 8, 8), 7.0)
    out = normalize(array, compute_stats(array, np.ones((8, 8), bool), PCT))
    assert np.isfinite(out).all() and (out == 0).all()
    stats = compute_stats(array, np.zeros((8, 8), bool), PCT)
    assert np.isfinite(normalize(array, stats)).all()


def test_nan_values_are_ignored_by_the_statistics():
    array = np.arange(100, dtype=np.float32).reshape(1, 10, 10)
    array[0, 0, :5] = np.nan
    stats = compute_stats(array, np.ones((10, 10), bool), {"method": "percentile", "low": 0, "high": 100})
    assert stats == {"offset": [5.0], "scale": [94.0]}


def test_fixed_mean_std():
    spec = {"method": "fixed", "mean": [10.0, 20.0], "std": [2.0, 4.0]}
    array = np.stack([np.full((3, 3), 12.0), np.full((3, 3), 12.0)])
    out = normalize(array, compute_stats(array, np.ones((3, 3), bool), spec))
    assert out[0, 0, 0] == 1.0 and out[1, 0, 0] == -2.0
    with pytest.raises(ValueError):
        compute_stats(array[:1], np.ones((3, 3), bool), spec)


def test_normalize_returns_a_new_float32_array_and_leaves_its_input():
    rng = np.random.default_rng(1)
    array = rng.integers(0, 4000, (3, 20, 30)).astype(np.uint16)
    before = array.copy()
    stats = compute_stats(array, np.ones((20, 30), bool), {"method": "percentile", "low": 2, "high": 98})
    out = normalize(array, stats)
    assert out.dtype == np.float32 and (array == before).all()
    offset, scale = np.array(stats["offset"])[:, None, None], np.array(stats["scale"])[:, None, None]
    assert np.allclose(out, (array - offset) / scale, atol=1e-5)
