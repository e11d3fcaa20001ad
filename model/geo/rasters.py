"""Opening rasters with GDAL and choosing their bands: every error names the input and says what to do."""

import re
from pathlib import Path

from ..errors import EDCDependencyError, EDCInputError
from ..vocabulary import BAND_ALIASES, KNOWN_BANDS


def gdal_modules():
    """(gdal, osr) with exceptions on; EDCDependencyError when GDAL's Python bindings are missing."""
    try:
        from osgeo import gdal, osr
    except ImportError:  # pragma: no cover - GDAL ships with QGIS
        raise EDCDependencyError("GDAL's Python bindings (osgeo) are missing; install python3-gdal "
                                 "(apt install python3-gdal) or run inside QGIS.") from None
    gdal.UseExceptions()
    return gdal, osr


def open_raster(path, label, error=EDCInputError):
    """Open ``path`` (a file or any GDAL dataset name) read-only; ``error`` naming the ``label`` input otherwise."""
    gdal, _ = gdal_modules()
    reason = "unknown format"
    previous = gdal.GetThreadLocalConfigOption("GDAL_NUM_THREADS", None)
    # GeoTIFF: decode the compressed blocks of one read on all cores (reads happen between the network's passes)
    gdal.SetThreadLocalConfigOption("GDAL_NUM_THREADS", previous or "ALL_CPUS")
    try:
        ds = gdal.Open(str(path)) if path else None
    except RuntimeError as exc:
        ds, reason = None, " ".join(str(exc).split())[:200]
    finally:
        gdal.SetThreadLocalConfigOption("GDAL_NUM_THREADS", previous)
    if ds is None:
        if not path or not Path(str(path)).exists() and Path(str(path)).suffix:
            raise error(f"The {label} raster '{path}' does not exist; choose an existing raster file.")
        raise error(f"The {label} raster '{path}' cannot be read by GDAL ({reason}); choose a raster file such as a "
                    "GeoTIFF.")
    if ds.RasterCount == 0:
        raise error(f"The {label} raster '{path}' has no raster bands; choose a raster file.")
    return warped_from_gcps(ds, path, label, error)


def warped_from_gcps(ds, path, label, error=EDCInputError):
    """``ds``, or where it is georeferenced by ground control points only (no geotransform: Sentinel-1 GRD
    measurement GeoTIFFs), a virtual north-up dataset warped with GDAL's GCP transformer into the GCPs' CRS, as
    ``gdalwarp`` does; pixels outside the GCP footprint are nodata (the band's own, else NaN / 0)."""
    if ds.GetGeoTransform(can_return_null=True) is not None or not ds.GetGCPCount() or not ds.GetGCPProjection():
        return ds
    gdal, _ = gdal_modules()
    band = ds.GetRasterBand(1)
    nodata = band.GetNoDataValue()
    if nodata is None:
        nodata = "nan" if band.DataType in (gdal.GDT_Float32, gdal.GDT_Float64) else 0
    try:  # from the name, so the virtual dataset opens (and owns) its source
        warped = gdal.Warp("", str(path), format="VRT", dstSRS=ds.GetGCPProjection(), resampleAlg="bilinear",
                           dstNodata=nodata)
    except RuntimeError as exc:
        warped, reason = None, " ".join(str(exc).split())[:200]
    else:
        reason = "no result"
    if warped is None:
        raise error(f"The {label} raster '{path}' is georeferenced by ground control points only and cannot be "
                    f"warped with them ({reason}); warp it to a map grid first (Raster > Projections > Warp).")
    return warped


def select_bands(ds, bands, names, label):
    """Validate a list of 1-based band numbers for ``ds`` against the band names the weights expect."""
    count = ds.RasterCount
    need = len(names)
    if count < need:
        article = "an" if label[0] in "aeiouAEIOU" else "a"
        raise EDCInputError(f"The {label} raster has {count} band{'s' if count != 1 else ''} but the weights need "
                            f"{need} ({', '.join(names)}); choose {article} {label} raster with these bands or "
                            f"weights trained for {count} {label} band{'s' if count != 1 else ''}.")
    bands = list(bands)
    if len(bands) != need:
        raise EDCInputError(f"{len(bands)} {label} band{'s were' if len(bands) != 1 else ' was'} selected but the "
                            f"weights need exactly {need} ({', '.join(names)}, in this order); select {need}.")
    bad = [b for b in bands if not 1 <= int(b) <= count]
    if bad:
        raise EDCInputError(f"{label.capitalize()} band {bad[0]} does not exist: the {label} raster has bands 1 to "
                            f"{count}; choose bands in that range.")
    return [int(b) for b in bands]


def band_name_warnings(ds, bands, names, label):
    """Warnings for selected bands whose description names another known band (KNOWN_BANDS: B3 where the weights
    expect B11, VH for VV) than the one the weights expect there.  A generic description ("Height", "Band 1", none)
    or one containing the expected name as a word ("Sigma0_VV_db" for VV, "B03" for B3) gives no warning."""
    warnings = []
    for b, name in zip(bands, names):
        described = ds.GetRasterBand(b).GetDescription().strip()
        if _names_another_band(described, name):
            warnings.append(f"WARNING: {label} band {b} is described as '{described}' but the weights expect "
                            f"'{name}' there; check the band selection.")
    return warnings


def _band_tokens(text):
    """Lower-case words of a band description or name, zero padding dropped (B08 -> b8), words split at any
    non-alphanumeric character and at underscores."""
    return {re.sub(r"^b0+(?=\d)", "b", t) for t in re.split(r"[^0-9a-z]+", text.lower()) if t}


def _names_another_band(described, expected):
    tokens = _band_tokens(described)
    wanted = _band_tokens(expected)
    if not tokens or described.lower() == expected.lower():
        return False
    wanted |= {alias for group in BAND_ALIASES if wanted & group for alias in group}
    known = tokens & set(KNOWN_BANDS)
    return bool(known) and not tokens & wanted
