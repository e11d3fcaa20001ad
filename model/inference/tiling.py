"""Tiled inference engine: overlapping tiles, batched prediction, smooth blending, rows written as they complete.

The engine knows nothing about models or files.  It asks ``read_window(y, x, h, w)`` for the tiles of a batch
(with ``prefetch``, from a reader thread, one batch ahead of ``predict``); the engine blends the overlapping
predictions with a weight that ramps down towards tile edges (never to zero) and hands finished rows to
``write_rows``.  Inputs are held
for two batches of tiles, blending buffers for one tile height of rows: memory does not grow with the scene height.
"""

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from ..errors import EDCCancelled


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


def run_tiled(grid, channels, read_window, predict, write_rows, batch_size=4, progress=None, is_cancelled=None,
              prefetch=True):
    """Run tiled inference over ``grid``.

    - ``read_window(y, x, h, w)`` -> ``(inputs, valid)``: a tuple of arrays (C_i, h, w) and a bool mask (h, w).
      Tiles are read in order (rows of tiles top to bottom, left to right in a row), never concurrently.  With
      ``prefetch`` a reader thread reads one batch of tiles ahead of ``predict``, so that reading overlaps with the
      network: right where the network runs on a GPU.  Where it runs on the CPU and keeps every core busy, a reader
      thread only slows its threads down (by more than the reading takes), so there ``prefetch=False`` reads each
      batch when it is needed, between the network's passes.
    - ``predict(batch)`` with ``batch`` a tuple of arrays (B, C_i, tile_h, tile_w) -> float array
      (B, channels, tile_h, tile_w).
    - ``write_rows(y, values, valid)``: finished rows ``y .. y + h``: blended values (channels, h, width) and the
      valid mask (h, width); values at invalid pixels are undefined.  Every row is written exactly once, in order.
    - ``progress(pct)`` and ``is_cancelled()`` are called once per batch; cancelling raises EDCCancelled.
    Tiles without a valid pixel are not predicted.  Inputs are held for two batches of tiles only; the blending
    buffers hold one tile height of rows, so memory depends on neither the scene height nor (for inputs) its width.
    """
    th, tw = grid.tile_h, grid.tile_w
    weight = blend_weights(th, tw, grid.overlap)
    acc = np.zeros((channels, th, grid.width), np.float32)  # rows y .. y + th of the current tile row
    wsum = np.zeros((th, grid.width), np.float32)
    valid = np.zeros((th, grid.width), bool)
    scratch = np.empty((channels, th, tw), np.float32)
    batches = [(row, grid.xs[i:i + batch_size]) for row in range(len(grid.ys))
               for i in range(0, len(grid.xs), batch_size)]

    def read_batch(k):
        row, xs = batches[k]
        return [read_window(grid.ys[row], x, th, tw) for x in xs]

    done = 0
    with (ThreadPoolExecutor(max_workers=1, thread_name_prefix="edc-reader") if prefetch else _Inline()) as reader:
        ahead = reader.submit(read_batch, 0)
        for k, (row, xs) in enumerate(batches):
            try:
                _check(is_cancelled)
                tiles = ahead.result()
            except BaseException:
                ahead.cancel()
                raise
            if k + 1 < len(batches):
                ahead = reader.submit(read_batch, k + 1)
            for x, (_, ok) in zip(xs, tiles):
                valid[:, x:x + tw] |= ok
            keep = [i for i, (_, ok) in enumerate(tiles) if ok.any()]
            if keep:
                out = predict(tuple(np.stack([tiles[i][0][j] for i in keep]) for j in range(len(tiles[keep[0]][0]))))
                for o, i in zip(out, keep):
                    np.multiply(o, weight, out=scratch)
                    acc[:, :, xs[i]:xs[i] + tw] += scratch
                    wsum[:, xs[i]:xs[i] + tw] += weight
            del tiles
            done += len(xs)
            if progress is not None:
                progress(100.0 * done / grid.n_tiles)
            if k + 1 == len(batches) or batches[k + 1][0] != row:
                _finish_row(grid, row, acc, wsum, valid, write_rows)
    if progress is not None:
        progress(100.0)


def _finish_row(grid, row, acc, wsum, valid, write_rows):
    """Write the rows of tile row ``row`` that no later tile touches, then shift the buffers up by as many rows."""
    th, y = grid.tile_h, grid.ys[row]
    n = (grid.ys[row + 1] if row + 1 < len(grid.ys) else grid.height) - y
    covered = wsum[:n] > 0
    write_rows(y, acc[:, :n] / np.where(covered, wsum[:n], 1.0), valid[:n] & covered)
    for buf in (acc, wsum, valid):
        buf[..., :th - n, :] = buf[..., n:, :].copy()
        buf[..., th - n:, :] = 0


class _Inline:
    """Stands in for the reader thread without ``prefetch``: ``submit`` returns a job that runs when its result is
    asked for."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def submit(self, fn, *args):
        return _Job(fn, args)


class _Job:
    def __init__(self, fn, args):
        self.fn, self.args = fn, args

    def result(self):
        return self.fn(*self.args)

    def cancel(self):
        return True


def _check(is_cancelled):
    if is_cancelled is not None and is_cancelled():
        raise EDCCancelled("Cancelled by the user; no output was written.")
