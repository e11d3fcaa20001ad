"""Undeclared fill values: a constant that marks missing data although the file declares no nodata (a -9999 or 0
border around a Sentinel-1 swath, 0 outside a Sentinel-2 tile's footprint).  Left in, it enters the per-scene
statistics and gets mapped: a -9999 border took a real scene's water IoU from 0.63 to 0.10.

A value counts as fill in a band when, in a sample of the band's own pixels, it covers at least MIN_SHARE of the
valid pixels (and MIN_PIXELS) and forms areas, not scattered pixels: at least MIN_FLAT of its pixels have it at all four
neighbours too.  Which values may be fill depends on the input: in SAR any value (backscatter is never constant over
an area: speckle), band by band; in optical data only the usual fill values (0, -9999, -32768, -32767, the type's
lowest value, and its highest except for 8-bit data, where 255 is a saturated cloud), and only where every band holds
it: deep water is 0 in the near and short-wave infrared of an 8-bit composite, but not in the visible bands."""

import numpy as np

MIN_SHARE = 0.002
MIN_PIXELS = 64  # and at least this many pixels: in a raster of a few pixels nothing can be told
MIN_FLAT = 0.8
USUAL_FILL = (0.0, -9999.0, -32768.0, -32767.0)


def fill_values(data, valid, any_value):
    """Per band of ``data`` (C, h, w) with GDAL's ``valid`` mask (h, w): (value, share of the valid pixels) of its
    fill value, or None.  ``any_value``: every value may be fill (SAR), else only the usual ones (optical)."""
    return [_band_fill(band, band, valid, any_value) for band in data]


def joint_fill_value(data, valid):
    """(value, share) of a usual fill value that every band of ``data`` (C, h, w) holds at once over areas, or None
    (optical rasters: see the module's rule)."""
    same = (data == data[:1]).all(axis=0)
    first = np.where(same, data[0], np.asarray(1, data.dtype) if data.dtype.kind in "ui" else np.nan)
    return _band_fill(first, data[0], valid & same, any_value=False, total=int(valid.sum()))


def _band_fill(band, typed, valid, any_value, total=None):
    """``band`` (h, w) holds the values looked at, ``typed`` the band whose type tells the usual fill values."""
    values = band[valid]
    if values.size == 0:
        return None
    total = total or values.size
    candidates = _candidates(typed.dtype, values, any_value)
    best = None
    for value in candidates:
        hits = band == value
        count = int((hits & valid).sum())
        share = count / total
        larger = best is None or share > best[1]
        if count >= MIN_PIXELS and share >= MIN_SHARE and larger and _flatness(hits) >= MIN_FLAT:
            best = (value.item() if hasattr(value, "item") else value, share)
    return best


def _candidates(dtype, values, any_value):
    if any_value:  # the most frequent value is the only one that can cover an area
        uniques, counts = np.unique(values, return_counts=True)
        return [uniques[counts.argmax()]]
    found = set(USUAL_FILL)
    if dtype.kind in "ui":
        info = np.iinfo(dtype)
        found.add(float(info.min))
        if info.bits > 8:
            found.add(float(info.max))
    elif dtype.kind == "f":
        found.update((float(np.finfo(dtype).min), float(np.finfo(dtype).max)))
    return [np.asarray(v).astype(dtype) for v in sorted(found) if _representable(v, dtype)]


def _representable(value, dtype):
    if dtype.kind in "ui":
        info = np.iinfo(dtype)
        return info.min <= value <= info.max
    return True


def _flatness(hits):
    """Share of the ``hits`` pixels (h, w) whose four neighbours are hits too (image edges count as hits)."""
    if not hits.any():
        return 0.0
    padded = np.pad(hits, 1, mode="edge")
    inner = hits & padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    return float(inner.sum()) / float(hits.sum())


def usable(band, valid):
    """True when ``band`` (h, w) varies over its ``valid`` pixels: a constant band carries no signal."""
    values = band[valid]
    return values.size > 0 and bool(np.nanmax(values) > np.nanmin(values))
