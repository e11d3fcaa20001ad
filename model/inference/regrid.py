"""Rows of network outputs on the model grid brought onto the output grid, nearest pixel, as they are finished: the
model grid covers the output grid's extent, or a wider area around a processing extent, with the same or other
(larger or smaller) pixels (model/geo/resolution.py)."""

import numpy as np

ROWS_PER_CALL = 256  # output rows handed on at once: memory stays that of a few rows of the output however it grows


class NearestRegrid:
    """``write_rows(y, values, valid)`` for rows of the ``model`` grid that calls ``write_output(y, values, valid)``
    with the rows of the ``output`` grid whose nearest model rows have arrived.  The model grid covers the extent of
    ``area`` (default: ``output``), in which the output grid starts at (column, row) ``at``.  Model rows must arrive
    in order, each once, as ``run_tiled`` hands them on."""

    def __init__(self, model, output, write_output, area=None, at=(0, 0)):
        self.write_output = write_output
        self.source_rows, self.source_cols = output_sources(model, output, area, at)
        self.next_row = 0

    def write_rows(self, y, values, valid, *extra):
        """Model rows ``y ..``; ``extra`` arguments are handed on to ``write_output``."""
        end = y + values.shape[1]
        last = int(np.searchsorted(self.source_rows, end))  # output rows whose source row is before ``end``
        for first in range(self.next_row, last, ROWS_PER_CALL):
            rows = self.source_rows[first:min(first + ROWS_PER_CALL, last)] - y
            pick = np.ix_(rows, self.source_cols)
            self.write_output(first, values[:, pick[0], pick[1]], valid[pick], *extra)
        self.next_row = max(self.next_row, last)


def output_sources(model, output, area=None, at=(0, 0)):
    """(rows, columns): for every row and column of the ``output`` grid, the nearest one of the ``model`` grid, which
    covers the extent of ``area`` (default: ``output``); the output grid starts at (column, row) ``at`` of ``area``,
    on the same pixels (a window of it)."""
    area = output if area is None else area
    rows = nearest_indices(area.height, model.height)[at[1]:at[1] + output.height]
    cols = nearest_indices(area.width, model.width)[at[0]:at[0] + output.width]
    return rows, cols


def nearest_indices(size, source_size):
    """For each of ``size`` pixels along an axis, the index of the nearest of ``source_size`` pixels over the same
    span (pixel centres)."""
    return np.minimum(((np.arange(size) + 0.5) * source_size / size).astype(np.int64), source_size - 1)
