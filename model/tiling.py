"""Tiled inference engine: overlapping tiles, batched prediction, smooth blending, rows written as they complete.

The engine knows nothing about models or files.  It asks ``read_rows(y, h)`` for a band of input rows (all columns),
cuts it into tiles, sends batches of tiles to ``predict``, blends the overlapping predictions with a weight that
ramps down towards tile edges (never to zero), and hands finished rows to ``write_rows``.  Only one band of rows
(tile height x scene width) is held at a time, so memory does not depend on the scene height.
"""

from dataclasses import dataclass

import numpy as np

from .errors import EDCCancelled


def tile_starts(length, tile, overlap):
    """Start offsets of tiles of size ``min(tile, length)`` covering ``length`` with at least ``overlap`` overlap."""
    tile = min(tile, length)
    step = max(tile - overlap, 1)
    starts = list(range(0, length - tile, step))
    return starts + [length - tile]


def ramp(size, overlap):
    """1-D blending weight: a raised-cosine ramp over ``overlap`` pixels at both ends, 1 in the middle, never 0."""
    pos = np.arange(size, dtype=np.float64) + 0.5
    edge = np.minimum(pos, size - pos)
    if overlap <= 0:
        return np.ones(size, np.float32)
    t = np.clip(edge / overlap, 0.0, 1.0)
    return (0.5 - 0.5 * np.cos(np.pi * t)).astype(np.float32).clip(1e-3, None)


def blend_weights(height, width, overlap):
    """Separable 2-D blending weight of a tile."""
    return np.outer(ramp(height, overlap), ramp(width, overlap))


@dataclass
class TileGrid:
    height: int
    width: int
    tile: int
    overlap: int

    def __post_init__(self):
        self.tile_h, self.tile_w = min(self.tile, self.height), min(self.tile, self.width)
        self.ys = tile_starts(self.height, self.tile, self.overlap)
        self.xs = tile_starts(self.width, self.tile, self.overlap)

    @property
    def n_tiles(self):
        return len(self.ys) * len(self.xs)


def run_tiled(grid, channels, read_rows, predict, write_rows, batch_size=4, progress=None, is_cancelled=None):
    """Run tiled inference over ``grid``.

    - ``read_rows(y, h)`` -> ``(inputs, valid)``: a tuple of arrays (C_i, h, width) and a bool mask (h, width).
    - ``predict(batch)`` with ``batch`` a tuple of arrays (B, C_i, tile_h, tile_w) -> float array
      (B, channels, tile_h, tile_w).
    - ``write_rows(y, values, valid)``: finished rows ``y .. y + h``: blended values (channels, h, width) and the
      valid mask (h, width); values at invalid pixels are undefined.  Every row is written exactly once, in order.
    - ``progress(pct)`` and ``is_cancelled()`` are called once per batch; cancelling raises EDCCancelled.
    Tiles without a valid pixel are not predicted.
    """
    th, tw = grid.tile_h, grid.tile_w
    weight = blend_weights(th, tw, grid.overlap)
    acc = np.zeros((channels, th, grid.width), np.float32)  # rows y .. y + th of the current tile row
    wsum = np.zeros((th, grid.width), np.float32)
    done, total = 0, grid.n_tiles
    for row, y in enumerate(grid.ys):
        _check(is_cancelled)
        inputs, valid = read_rows(y, th)
        xs_valid = [x for x in grid.xs if valid[:, x:x + tw].any()]
        done += len(grid.xs) - len(xs_valid)
        for b in range(0, len(xs_valid), batch_size):
            _check(is_cancelled)
            xs = xs_valid[b:b + batch_size]
            out = predict(tuple(np.stack([a[:, :, x:x + tw] for x in xs]) for a in inputs))
            for i, x in enumerate(xs):
                acc[:, :, x:x + tw] += out[i] * weight
                wsum[:, x:x + tw] += weight
            done += len(xs)
            if progress is not None:
                progress(100.0 * done / total)
        # rows y .. next_y are final: the next tile row starts at next_y
        n = (grid.ys[row + 1] if row + 1 < len(grid.ys) else grid.height) - y
        covered = wsum[:n] > 0
        write_rows(y, acc[:, :n] / np.where(covered, wsum[:n], 1.0), valid[:n] & covered)
        acc[:, :th - n], wsum[:th - n] = acc[:, n:].copy(), wsum[n:].copy()
        acc[:, th - n:], wsum[th - n:] = 0.0, 0.0
    if progress is not None:
        progress(100.0)


def _check(is_cancelled):
    if is_cancelled is not None and is_cancelled():
        raise EDCCancelled("Cancelled by the user; no output was written.")
