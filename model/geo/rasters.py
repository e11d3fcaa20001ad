"""Opening rasters with GDAL and choosing their bands: every error names the input and says what to do."""

from pathlib import Path

from ..errors import EDCDependencyError, EDCInputError


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
    return ds


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
    """Warnings for selected bands whose description differs from the band name the weights expect there."""
    warnings = []
    for b, name in zip(bands, names):
        described = ds.GetRasterBand(b).GetDescription().strip()
        if described and described.lower() != name.lower():
            warnings.append(f"WARNING: {label} band {b} is described as '{described}' but the weights expect "
                            f"'{name}' there; check the band selection.")
    return warnings
