"""Synthetic clouds for clear optical images: fractal thick and thin clouds with their shadows.

``add_clouds(image, rng, coverage)`` works on raw (un-normalised) values so that the per-image normalisation is then
computed on the cloudy image exactly as at inference.  The clear input is the cloud-removal target and the returned
mask marks the cloud-covered pixels; exactly ``coverage`` of the pixels are covered.
"""

import numpy as np


def fractal_noise(shape, rng, beta=2.4):
    """Zero-mean, unit-variance noise with a 1/f**beta power spectrum (cloud-like for beta ~ 2-3)."""
    h, w = shape
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    freq = np.hypot(fx, fy)
    freq[0, 0] = 1.0
    amplitude = freq ** (-beta / 2)
    amplitude[0, 0] = 0.0
    spectrum = amplitude * np.exp(2j * np.pi * rng.random(amplitude.shape))
    noise = np.fft.irfft2(spectrum, s=(h, w))
    return (noise - noise.mean()) / (noise.std() + 1e-12)


def add_clouds(image, rng, coverage=None, thin_probability=0.35, shadows=True, value_max=None, transmission=False):
    """Cover ``image`` (C, H, W raw values) with clouds; return (cloudy float32, mask bool (H, W)), and with
    ``transmission`` also the share of the ground signal that reaches the sensor (H, W) float32: 1 on clear ground,
    (1 - opacity) under cloud, darkened by the shadows (the soft reliability target of EDC v2).  The random draws
    are the same either way.

    ``coverage``: fraction of pixels under cloud (random in 0.05..0.7 when None).  Thick clouds are near-opaque,
    thin ones semi-transparent (35-70%); both have soft fractal edges.  Shadows (not part of the mask) darken the
    ground at an offset from the thick clouds.  ``value_max`` clips the result (e.g. 255 for 8-bit images).
    """
    image = np.asarray(image, np.float32)
    _, h, w = image.shape
    if coverage is None:
        coverage = rng.uniform(0.05, 0.7)
    if coverage <= 0:
        clear = (image.copy(), np.zeros((h, w), bool))
        return clear + (np.ones((h, w), np.float32),) if transmission else clear
    noise = fractal_noise((h, w), rng, beta=rng.uniform(2.2, 3.0))
    threshold = np.quantile(noise, 1.0 - min(coverage, 1.0)) if coverage < 1 else -np.inf
    mask = noise >= threshold
    edge = rng.uniform(0.15, 0.5)
    alpha = np.clip(0.5 + (noise - threshold) / (2 * edge), 0.0, 1.0) if coverage < 1 else np.ones((h, w))
    thin = rng.random() < thin_probability
    peak = rng.uniform(0.35, 0.7) if thin else rng.uniform(0.9, 1.0)
    texture = fractal_noise((h, w), rng, beta=2.0)
    opacity = (alpha * peak * np.clip(0.85 + 0.15 * texture, 0.5, 1.0)).astype(np.float32)

    bright = np.percentile(image.reshape(image.shape[0], -1), 99.5, axis=1)
    if value_max is not None:
        bright = np.maximum(bright, 0.85 * value_max)
    cloud_value = (bright * rng.uniform(1.0, 1.2) * rng.uniform(0.9, 1.0, size=bright.shape)).astype(np.float32)

    ground, shadow = image, 0.0
    if shadows and not thin:
        angle = rng.uniform(0, 2 * np.pi)
        dist = rng.uniform(0.03, 0.12) * max(h, w)
        dy, dx = int(round(dist * np.sin(angle))), int(round(dist * np.cos(angle)))
        shadow = np.roll(opacity, (dy, dx), axis=(0, 1)) * rng.uniform(0.3, 0.6)
        ground = image * (1.0 - shadow)[None]
    cloudy = ground * (1.0 - opacity)[None] + cloud_value[:, None, None] * opacity[None]
    if value_max is not None:
        cloudy = np.clip(cloudy, 0, value_max)
    if transmission:
        passed = ((1.0 - opacity) * (1.0 - shadow)).astype(np.float32)
        return cloudy.astype(np.float32), mask, passed
    return cloudy.astype(np.float32), mask


def bright_cloud_mask(image, value_max=255.0, brightness=0.5, saturation=0.2):
    """Real-cloud detector for 8-bit composites: bright (mean of bands >= ``brightness`` * value_max) and grey
    ((max - min) / max <= ``saturation``) pixels.  Used to find OMBRIA test patches with real clouds."""
    image = np.asarray(image, np.float32)
    hi, lo = image.max(axis=0), image.min(axis=0)
    return (image.mean(axis=0) >= brightness * value_max) & ((hi - lo) <= saturation * np.maximum(hi, 1e-6))
