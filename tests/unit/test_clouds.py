"""Synthetic clouds: exact coverage, thick and thin, shadows, determinism; the real-cloud detector."""

import numpy as np
import pytest

from model.clouds import add_clouds, bright_cloud_mask, fractal_noise


def _ground(shape=(3, 96, 128)):
    rng = np.random.default_rng(5)
    return rng.uniform(20, 120, size=shape).astype(np.float32)


@pytest.mark.parametrize("coverage", [0.1, 0.25, 0.5, 0.75])
def test_mask_covers_the_asked_fraction(coverage):
    cloudy, mask = add_clouds(_ground(), np.random.default_rng(0), coverage, value_max=255)
    assert mask.shape == (96, 128) and mask.dtype == bool
    assert abs(mask.mean() - coverage) < 2 / mask.size
    assert cloudy.shape == (3, 96, 128) and cloudy.max() <= 255


def test_no_clouds_leaves_the_image():
    image = _ground()
    cloudy, mask = add_clouds(image, np.random.default_rng(0), 0.0)
    assert not mask.any() and np.array_equal(cloudy, image)


def test_clouds_are_bright_and_grey_and_deterministic():
    image = _ground()
    a, mask = add_clouds(image, np.random.default_rng(3), 0.4, thin_probability=0.0, value_max=255)
    b, mask_b = add_clouds(image, np.random.default_rng(3), 0.4, thin_probability=0.0, value_max=255)
    assert np.array_equal(a, b) and np.array_equal(mask, mask_b)
    assert a[:, mask].mean() > image[:, mask].mean() + 80
    assert bright_cloud_mask(a)[mask].mean() > 0.5       # the real-cloud rule finds thick synthetic clouds
    assert bright_cloud_mask(image).mean() == 0.0


def test_thin_clouds_let_the_ground_show_through():
    image = _ground()
    thin, mask = add_clouds(image, np.random.default_rng(4), 0.5, thin_probability=1.0, value_max=255)
    thick, mask2 = add_clouds(image, np.random.default_rng(4), 0.5, thin_probability=0.0, value_max=255)
    assert np.array_equal(mask, mask2)
    # under thin clouds the ground pattern is still correlated with the clear image; under thick ones hardly
    corr_thin = np.corrcoef(thin[0][mask], image[0][mask])[0, 1]
    corr_thick = np.corrcoef(thick[0][mask], image[0][mask])[0, 1]
    assert corr_thin > 0.3 and corr_thin > corr_thick + 0.2


def test_shadows_darken_clear_ground():
    image = _ground()
    with_shadow, mask = add_clouds(image, np.random.default_rng(8), 0.3, thin_probability=0.0, shadows=True)
    no_shadow, _ = add_clouds(image, np.random.default_rng(8), 0.3, thin_probability=0.0, shadows=False)
    darker = (with_shadow < image - 5).all(axis=0) & ~mask
    assert darker.mean() > 0.02
    assert not ((no_shadow < image - 1e-3).all(axis=0) & ~mask).any()


def test_fractal_noise_is_normalised_and_smooth():
    noise = fractal_noise((64, 64), np.random.default_rng(0))
    assert abs(noise.mean()) < 1e-6 and noise.std() == pytest.approx(1.0, abs=1e-6)
    # neighbouring pixels are strongly correlated (cloud-like), unlike white noise
    assert np.corrcoef(noise[:, :-1].ravel(), noise[:, 1:].ravel())[0, 1] > 0.8
