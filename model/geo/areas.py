"""True pixel areas of an output grid on the ellipsoid, in m^2, whatever its CRS (geographic, Web Mercator, UTM).

The corners of a coarse lattice of the grid (every ``LATTICE`` pixels, plus the last row and column) are projected
into a Lambert azimuthal equal-area projection centred on the scene, on the CRS's own ellipsoid; each lattice cell's
area is its quadrilateral's (shoelace formula), shared equally by its pixels.  Counting a class then costs one
weighted count per lattice column: :meth:`PixelAreas.count` returns the pixel counts and the areas of the classes
from the same ``bincount``.
"""

import numpy as np

from .rasters import gdal_modules

LATTICE = 64  # pixels between lattice lines: an area's variation inside a cell is far below a per mille


def _lattice(size, step):
    return np.unique(np.r_[np.arange(0, size, step), size])


class PixelAreas:
    """Area (m^2) of every pixel of a georeferenced ``grid``, constant over each lattice cell.

    Use :meth:`of` (None where the grid has no CRS or cannot be projected)."""

    def __init__(self, cell_area, col_cell, row_cell):
        self.cell_area = cell_area                      # (lattice rows, lattice columns): m^2 per pixel
        self.col_cell, self.row_cell = col_cell, row_cell  # lattice column of every column, row of every row
        self.n_cols = cell_area.shape[1]

    @classmethod
    def of(cls, grid, step=LATTICE):
        """The pixel areas of ``grid``; None without a CRS, or where its corners cannot be projected."""
        if not grid.wkt:
            return None
        _, osr = gdal_modules()
        cols, rows = _lattice(grid.width, step), _lattice(grid.height, step)
        x0, dx, rx, y0, ry, dy = grid.geotransform
        cc, rr = np.meshgrid(cols.astype(float), rows.astype(float))
        x, y = x0 + cc * dx + rr * rx, y0 + cc * ry + rr * dy
        src = osr.SpatialReference()
        src.ImportFromWkt(grid.wkt)
        geog = src.CloneGeogCS()
        laea = osr.SpatialReference()
        laea.CopyGeogCSFrom(src)
        for s in (src, geog, laea):
            s.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
        try:
            cx, cy = x0 + grid.width / 2 * dx + grid.height / 2 * rx, y0 + grid.width / 2 * ry + grid.height / 2 * dy
            lon, lat = osr.CoordinateTransformation(src, geog).TransformPoint(cx, cy)[:2]
            laea.SetLAEA(lat, lon, 0.0, 0.0)
            pts = np.array(osr.CoordinateTransformation(src, laea).TransformPoints(np.c_[x.ravel(), y.ravel()]
                                                                                   .tolist()))
        except (RuntimeError, TypeError, ValueError):
            return None
        if not np.isfinite(pts[:, :2]).all():
            return None
        px, py = pts[:, 0].reshape(x.shape), pts[:, 1].reshape(x.shape)
        # shoelace over the corners (r, c) -> (r, c+1) -> (r+1, c+1) -> (r+1, c) of every cell
        corners = [(slice(None, -1), slice(None, -1)), (slice(None, -1), slice(1, None)),
                   (slice(1, None), slice(1, None)), (slice(1, None), slice(None, -1))]
        twice = sum(px[a] * py[b] - px[b] * py[a] for a, b in zip(corners, corners[1:] + corners[:1]))
        pixels = np.outer(np.diff(rows), np.diff(cols))
        cell_area = np.abs(twice) / 2.0 / pixels
        col_cell = np.repeat(np.arange(len(cols) - 1, dtype=np.int32), np.diff(cols))
        row_cell = np.repeat(np.arange(len(rows) - 1), np.diff(rows))
        return cls(cell_area, col_cell, row_cell)

    def count(self, y, classes, n_values):
        """(pixels, m^2) of every value below ``n_values`` in rows ``y ..`` of ``classes`` (h, width; values up to
        255)."""
        pixels, area = np.zeros(n_values, np.int64), np.zeros(n_values)
        cells = self.row_cell[y:y + classes.shape[0]]
        starts = np.r_[0, np.flatnonzero(np.diff(cells)) + 1]
        for start, end in zip(starts, np.r_[starts[1:], len(cells)]):
            index = classes[start:end].astype(np.int32) * self.n_cols + self.col_cell
            counts = np.bincount(index.ravel(), minlength=256 * self.n_cols).reshape(-1, self.n_cols)[:n_values]
            pixels += counts.sum(axis=1)
            area += counts @ self.cell_area[cells[start]]
        return pixels, area
