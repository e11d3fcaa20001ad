"""Per-band input normalisation shared by training and inference.

A spec comes from the weights metadata (``metadata["normalization"][stream]``):

- ``{"method": "percentile", "low": 2, "high": 98}``: robust per-image scaling; band values at the ``low`` and
  ``high`` percentiles (over valid pixels) map to 0 and 1.  At inference the statistics are computed once for the
  whole scene (from a decimated read), never per tile, so that tiles agree.
- ``{"method": "fixed", "mean": [...], "std": [...]}``: ``(x - mean) / std`` with constants from the weights.

Statistics are a plain dict ``{"offset": [...], "scale": [...]}`` so that ``normalize`` is ``(x - offset) / scale``
for both methods.
"""

import numpy as np


def compute_stats(array, valid_mask, spec):
    """Statistics of ``array`` (C, H, W) over the pixels where ``valid_mask`` (H, W) is True."""
    array = np.asarray(array)
    channels = array.shape[0]
    if spec["method"] == "fixed":
        offset, scale = list(map(float, spec["mean"])), list(map(float, spec["std"]))
        if len(offset) != channels:
            raise ValueError(f"fixed normalisation lists {len(offset)} bands, the array has {channels}")
        return {"offset": offset, "scale": scale}
    valid = np.asarray(valid_mask, bool)
    offset, scale = [], []
    for band in array.reshape(channels, -1)[:, valid.reshape(-1)] if valid.any() else [None] * channels:
        if band is None:
            low = high = 0.0
        else:
            band = band[np.isfinite(band)]
            low, high = (np.percentile(band.astype(np.float64), [spec.get("low", 2), spec.get("high", 98)])
                         if band.size else (0.0, 0.0))
        span = float(high) - float(low)
        offset.append(float(low))
        scale.append(span if span > 1e-12 else 1.0)  # a constant band maps to 0 instead of dividing by zero
    return {"offset": offset, "scale": scale}


def _columns(stats, ndim):
    shape = (-1,) + (1,) * (ndim - 1)
    return (np.asarray(stats["offset"], np.float32).reshape(shape),
            np.asarray(stats["scale"], np.float32).reshape(shape))


def normalize(array, stats):
    """``array`` (C, ...) scaled with ``stats``; a new float32 array (scaled in place, no temporaries), not clipped
    (clouds and bright targets may exceed 1)."""
    offset, scale = _columns(stats, np.ndim(array))
    out = np.array(array, np.float32)
    out -= offset
    out /= scale
    return out


def denormalize(array, stats):
    """Inverse of :func:`normalize`: back to the units of the input raster (float32)."""
    offset, scale = _columns(stats, np.ndim(array))
    return (np.asarray(array, np.float32) * scale + offset).astype(np.float32, copy=False)


def normalize_valid(window, stats, valid):
    """A float32 copy of ``window`` (C, h, w) normalised with ``stats``, 0 where not ``valid`` or not finite."""
    out = normalize(window, stats)
    if not valid.all():
        out[:, ~valid] = 0.0
    # a floating-point input may overflow float32 when scaled (NaN/inf inputs are invalid, already 0)
    if window.dtype.kind == "f" and not np.isfinite(out).all():
        np.nan_to_num(out, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
    return out
