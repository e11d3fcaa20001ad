"""The output grid: a north-up pixel grid on the optical raster, cropped to the processing extent and to the SAR
footprint, and raster footprints in another CRS."""

import math
from dataclasses import dataclass

import numpy as np

from ..errors import EDCInputError
from .rasters import gdal_modules

PIXEL_GRID = (0.0, 1.0, 0.0, 0.0, 0.0, -1.0)  # what an ungeoreferenced raster is placed on


@dataclass
class Grid:
    """A north-up pixel grid: geotransform, CRS (WKT, may be empty), size."""
    geotransform: tuple
    wkt: str
    width: int
    height: int

    @property
    def bounds(self):
        x0, dx, _, y0, _, dy = self.geotransform
        xs, ys = (x0, x0 + dx * self.width), (y0, y0 + dy * self.height)
        return min(xs), min(ys), max(xs), max(ys)

    @property
    def pixel_area(self):
        gt = self.geotransform
        return abs(gt[1] * gt[5] - gt[2] * gt[4])

    def window(self, x, y, width, height):
        """The sub-grid of ``width`` x ``height`` pixels starting at column ``x``, row ``y``."""
        x0, dx, _, y0, _, dy = self.geotransform
        return Grid((x0 + x * dx, dx, 0.0, y0 + y * dy, 0.0, dy), self.wkt, width, height)

    def resized(self, width, height):
        """The same extent in ``width`` x ``height`` (larger) pixels."""
        gt = self.geotransform
        return Grid((gt[0], gt[1] * self.width / width, 0.0, gt[3], 0.0, gt[5] * self.height / height), self.wkt,
                    width, height)


def georef(ds, label):
    """(geotransform, wkt) of ``ds``; ungeoreferenced rasters get a pixel grid (y up to 0, 1 unit per pixel)."""
    gt = ds.GetGeoTransform(can_return_null=True)
    if gt is None:
        return PIXEL_GRID, ""
    if gt[2] or gt[4] or gt[5] > 0:
        raise EDCInputError(f"The {label} raster is rotated or south-up; warp it to a north-up grid first "
                            "(Raster > Projections > Warp).")
    return tuple(gt), ds.GetProjection() or ""


def footprint(ds_gt, ds_wkt, size, target_wkt):
    """Bounding box of a raster's footprint in ``target_wkt`` (edges densified); None where it cannot be projected."""
    w, h = size
    t = np.linspace(0.0, 1.0, 21)
    cols = np.concatenate([t * w, np.full_like(t, w), t[::-1] * w, np.zeros_like(t)])
    rows = np.concatenate([np.zeros_like(t), t * h, np.full_like(t, h), t[::-1] * h])
    x = ds_gt[0] + cols * ds_gt[1]
    y = ds_gt[3] + rows * ds_gt[5]
    if ds_wkt and target_wkt:
        _, osr = gdal_modules()
        src, dst = osr.SpatialReference(), osr.SpatialReference()
        src.ImportFromWkt(ds_wkt)
        dst.ImportFromWkt(target_wkt)
        if not src.IsSame(dst):
            for s in (src, dst):
                s.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
            pts = np.array(osr.CoordinateTransformation(src, dst).TransformPoints(np.c_[x, y].tolist()))
            ok = np.isfinite(pts[:, :2]).all(axis=1)
            if not ok.any():
                return None
            x, y = pts[ok, 0], pts[ok, 1]
    return x.min(), y.min(), x.max(), y.max()


def _checked_extent(extent):
    try:
        exmin, eymin, exmax, eymax = (float(v) for v in extent)
    except (TypeError, ValueError):
        raise EDCInputError("The processing extent must be four numbers xmin, ymin, xmax, ymax.") from None
    if not all(map(math.isfinite, (exmin, eymin, exmax, eymax))) or exmax <= exmin or eymax <= eymin:
        raise EDCInputError(f"The processing extent ({exmin}, {eymin}, {exmax}, {eymax}) has zero or negative "
                            "size; draw an extent with a width and a height, or leave it empty.")
    return exmin, eymin, exmax, eymax


def output_grid(optical, sar, extent=None):
    """The output grid: the optical grid cropped to ``extent`` (optical CRS) and to the SAR footprint, and its
    (column, row) offset in the optical raster."""
    opt_gt, opt_wkt = georef(optical, "optical")
    sar_gt, sar_wkt = georef(sar, "SAR")
    sizes = (optical.RasterXSize, optical.RasterYSize), (sar.RasterXSize, sar.RasterYSize)
    if opt_gt == sar_gt == PIXEL_GRID and not opt_wkt and not sar_wkt and sizes[0] != sizes[1]:
        raise EDCInputError(f"The optical raster ({sizes[0][0]} x {sizes[0][1]} pixels) and the SAR raster "
                            f"({sizes[1][0]} x {sizes[1][1]}) have no georeferencing and different sizes, so they "
                            "cannot be overlaid; georeference both (Raster > Georeferencer, or warp them with their "
                            "ground control points) or give two rasters of the same size covering the same area.")
    if bool(opt_wkt) != bool(sar_wkt):
        which = "optical" if not opt_wkt else "SAR"
        raise EDCInputError(f"The {which} raster has no coordinate reference system while the other has one; assign "
                            f"its CRS (Raster > Projections > Assign Projection) so the two can be overlaid.")
    full = Grid(opt_gt, opt_wkt, optical.RasterXSize, optical.RasterYSize)
    xmin, ymin, xmax, ymax = full.bounds
    if extent is not None:
        exmin, eymin, exmax, eymax = _checked_extent(extent)
        if exmin >= xmax or exmax <= xmin or eymin >= ymax or eymax <= ymin:
            raise EDCInputError("The processing extent does not overlap the optical raster; choose an extent inside "
                                "the optical raster (in its CRS) or leave it empty.")
        xmin, ymin, xmax, ymax = max(xmin, exmin), max(ymin, eymin), min(xmax, exmax), min(ymax, eymax)
    foot = footprint(sar_gt, sar_wkt, (sar.RasterXSize, sar.RasterYSize), opt_wkt)
    if foot is None or foot[0] >= xmax or foot[2] <= xmin or foot[1] >= ymax or foot[3] <= ymin:
        raise EDCInputError("The optical and SAR rasters do not overlap" + (" inside the processing extent"
                            if extent is not None else "") + "; choose a SAR raster covering the same area.")
    xmin, ymin, xmax, ymax = max(xmin, foot[0]), max(ymin, foot[1]), min(xmax, foot[2]), min(ymax, foot[3])
    x0, dx, _, y0, _, dy = opt_gt
    cols = sorted(((xmin - x0) / dx, (xmax - x0) / dx))
    rows = sorted(((ymin - y0) / dy, (ymax - y0) / dy))
    eps = 1e-6
    c0, c1 = max(int(math.floor(cols[0] + eps)), 0), min(int(math.ceil(cols[1] - eps)), full.width)
    r0, r1 = max(int(math.floor(rows[0] + eps)), 0), min(int(math.ceil(rows[1] - eps)), full.height)
    if c1 <= c0 or r1 <= r0:
        raise EDCInputError("The overlap of the optical raster, the SAR raster and the processing extent is smaller "
                            "than one optical pixel; choose overlapping inputs or a larger extent.")
    return full.window(c0, r0, c1 - c0, r1 - r0), (c0, r0)
