"""The grid the network runs on.  Weights learn at one ground sampling distance (the OMBRIA-trained default: 10 m
Sentinel-2 / Sentinel-1): a 0.5 m optical image fed pixel for pixel shows the network features twenty times larger
than any it saw (a dry window came out 25.6 % water).  By default the inputs are therefore read at the weights'
resolution (GDAL resamples on the fly, averaging where it shrinks) whenever the optical pixels differ from it by more
than TOLERANCE; the class map is then brought back onto the optical grid (nearest) or written at the model's
resolution."""

import math

TOLERANCE = 1.5  # optical pixels up to 1.5 x larger or smaller than the weights' are used as they are
EQUATOR_M = 111320.0  # metres per degree of longitude at the equator (WGS84), per degree of latitude about the same


def pixel_size_m(grid):
    """(x, y) pixel size of ``grid`` in metres: linear CRS units scaled to metres, degrees at the grid's latitude;
    None for a grid without CRS."""
    if not grid.wkt:
        return None
    from .rasters import gdal_modules
    _, osr = gdal_modules()
    srs = osr.SpatialReference()
    srs.ImportFromWkt(grid.wkt)
    dx, dy = abs(grid.geotransform[1]), abs(grid.geotransform[5])
    if srs.IsGeographic():
        lat = grid.geotransform[3] + grid.geotransform[5] * grid.height / 2
        return dx * EQUATOR_M * math.cos(math.radians(lat)), dy * EQUATOR_M
    scale = srs.GetLinearUnits() or 1.0
    return dx * scale, dy * scale


def model_grid(grid, gsd_m, native=False):
    """(the grid to run the network on, what was decided in words or None).  ``grid``: the output grid on the
    optical raster; ``gsd_m``: the weights' ground sampling distance; ``native``: keep the optical grid anyway."""
    size = pixel_size_m(grid)
    if size is None:
        return grid, None
    pixel = math.sqrt(size[0] * size[1])
    ratio = gsd_m / pixel
    if 1 / TOLERANCE <= ratio <= TOLERANCE:
        return grid, None
    said = f"the optical pixels are {pixel:.3g} m, the weights were trained at {gsd_m:g} m"
    if native:
        return grid, (f"WARNING: {said}; mapping on the optical grid as asked (features appear {ratio:.2g} times "
                      "their trained size: expect a poorer map; the default resamples the inputs to the weights' "
                      "resolution).")
    width, height = max(1, round(grid.width / ratio)), max(1, round(grid.height / ratio))
    model = grid.resized(width, height)
    return model, (f"WARNING: {said}: the inputs are read at {gsd_m:g} m ({width} x {height} pixels) and the map "
                   "is brought back onto the output grid. Choose the native resolution to map pixel for pixel.")
