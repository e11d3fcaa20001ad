"""Putting one raster onto another's grid, on the fly, with one resampling rule for inference and training alike.

The rule (:func:`resampling_for`): class values (labels, masks) take the nearest pixel; continuous values (SAR,
optical) are averaged where the source pixels are less than half the grid's pixel size, and interpolated bilinearly
otherwise.
"""

from ..errors import EDCInputError
from .grid import PIXEL_GRID, footprint, georef
from .rasters import gdal_modules

def resampling_for(ds, grid, categorical=False):
    """The GDAL resampling that puts ``ds`` onto ``grid`` (see the module's rule)."""
    if categorical:
        return "near"
    foot = footprint(georef(ds, "source")[0], ds.GetProjection() if grid.wkt else "",
                     (ds.RasterXSize, ds.RasterYSize), grid.wkt)
    pixel = (foot[2] - foot[0]) / ds.RasterXSize
    return "average" if pixel < abs(grid.geotransform[1]) / 2 else "bilinear"


def band_subset(ds, bands, fill=()):
    """The bands ``bands`` of ``ds`` as a VRT, georeferenced (a raster without a geotransform gets a pixel grid).
    ``fill``: per band, an undeclared fill value to declare as the band's nodata (where it declares none), so that
    warping leaves those pixels out."""
    gdal, _ = gdal_modules()
    src = gdal.Translate("", ds, format="VRT", bandList=list(bands))
    if ds.GetGeoTransform(can_return_null=True) is None:
        src.SetGeoTransform(PIXEL_GRID)
    for i, value in enumerate(fill):
        band = src.GetRasterBand(i + 1)
        if value is not None and band.GetNoDataValue() is None:
            band.SetNoDataValue(float(value))
    return src


def warp(src, grid, resampling, fmt, label="SAR", **options):
    """``src`` warped onto ``grid`` as a ``fmt`` ("VRT" or "MEM") dataset whose last band is the coverage (alpha)."""
    gdal, _ = gdal_modules()
    xmin, ymin, xmax, ymax = grid.bounds
    try:
        return gdal.Warp("", src, format=fmt, dstSRS=grid.wkt or None, outputBounds=(xmin, ymin, xmax, ymax),
                         width=grid.width, height=grid.height, resampleAlg=resampling, dstAlpha=True, **options)
    except RuntimeError as exc:
        raise EDCInputError(f"The {label} raster cannot be reprojected onto the optical raster's grid ({exc}); check "
                            "its coordinate reference system.") from None


def warped_vrt(ds, bands, grid, resampling=None, fill=()):
    """The bands ``bands`` of ``ds`` warped onto ``grid`` as a virtual dataset; its last band is the coverage.
    ``fill``: as for :func:`band_subset`.  The band subset it reads from is its attribute ``edc_source``: held by the
    view, it is released after it (GDAL would read freed memory the other way round)."""
    src = band_subset(ds, bands, fill)
    vrt = warp(src, grid, resampling or resampling_for(ds, grid), "VRT", multithread=False)
    vrt.edc_source = src
    return vrt
