"""Cutting one scene into blocks whose class maps are, pixel for pixel, those of one run over the whole scene.

``segment()`` blends overlapping tiles that start where :class:`TileGrid` says; a pixel's value is the weighted sum
of the predictions of every tile that covers it.  A block is therefore a rectangle of whole rows and columns of that
tile grid (its *own* pixels, from one tile start to the next block's first tile start) and the tiles it runs are all
the scene's tiles that touch its own pixels, at their places in the scene: the tiles of the neighbouring rows and
columns that reach into the block are its halo (at least the tile overlap wide).  Every own pixel then gets exactly
the tiles, weights and summation order of the whole-scene run, and the block keeps only its own pixels.

On the output grid (which differs from the model grid where the inputs are read at the weights' resolution, and
around a processing extent, where the model grid also covers the context read around it), a block's own pixels
are the output pixels whose nearest model pixel is one of its own model pixels, as
:class:`model.inference.regrid.NearestRegrid` picks them for the whole scene.
"""

from dataclasses import dataclass

import numpy as np

from ..inference.regrid import output_sources
from ..inference.tiling import tile_starts


@dataclass(frozen=True)
class Span:
    """One axis of a block: own model pixels ``own`` [start, end), tiles from ``window`` [start, end) at the scene's
    tile starts ``starts`` (relative to the window start), own output pixels ``output`` [start, end) and, for each
    of those, its model pixel relative to the window start (``pick``)."""
    own: tuple
    window: tuple
    starts: tuple
    output: tuple
    pick: tuple


@dataclass(frozen=True)
class Block:
    """A block of a scene: ``row``, ``col`` in the block grid, its row and column spans."""
    row: int
    col: int
    rows: Span
    cols: Span

    @property
    def key(self):
        return f"r{self.row:03d}_c{self.col:03d}"

    @property
    def pixels(self):
        """Own pixels on the output grid."""
        return (self.rows.output[1] - self.rows.output[0]) * (self.cols.output[1] - self.cols.output[0])


@dataclass(frozen=True)
class SubGrid:
    """The tiles of a block for :func:`model.inference.tiling.run_tiled`: the attributes of a :class:`TileGrid`
    with the scene's tile starts instead of starts of its own."""
    height: int
    width: int
    tile_h: int
    tile_w: int
    overlap: int
    ys: tuple
    xs: tuple

    @property
    def n_tiles(self):
        return len(self.ys) * len(self.xs)


def spans(model_length, source, tile, overlap, tiles_per_block):
    """The spans of the blocks along one axis: ``tiles_per_block`` scene tile starts each; ``source``: the model
    pixel of every output pixel (increasing; :func:`model.inference.regrid.output_sources`)."""
    starts = tile_starts(model_length, tile, overlap)
    size = min(tile, model_length)
    source = np.asarray(source)
    bounds = starts[::tiles_per_block] + [model_length]
    result = []
    for own in zip(bounds[:-1], bounds[1:]):
        used = [s for s in starts if s < own[1] and s + size > own[0]]
        window = (used[0], used[-1] + size)
        output = (int(np.searchsorted(source, own[0])), int(np.searchsorted(source, own[1])))
        if output[1] > output[0]:
            pick = tuple(int(v) - window[0] for v in source[output[0]:output[1]])
            result.append(Span(own, window, tuple(s - window[0] for s in used), output, pick))
    return result


def plan_blocks(model, output, tile, overlap, block_size, block_width=None, sources=None):
    """The blocks of a scene whose network runs on grid ``model`` and whose map is written on grid ``output``
    (:class:`model.geo.grid.Grid`; ``sources``: the model row and column of every output row and column, default
    those of two grids over the same extent; :func:`model.distributed.scene.plan_sources` gives a plan's),
    ``block_size`` model pixels high and ``block_width`` wide at most (None: ``block_size``; 0: the whole width,
    strips), rounded down to whole tile steps, at least one tile.  Each cut costs one more row (or column) of tiles
    for the halo: a block of k tile steps runs k + 1."""
    rows_from, cols_from = output_sources(model, output) if sources is None else sources
    step = max(min(tile, model.height, model.width) - overlap, 1)
    width = block_size if block_width is None else (block_width or model.width + tile)
    rows = spans(model.height, rows_from, tile, overlap, max(1, int(block_size) // step))
    cols = spans(model.width, cols_from, tile, overlap, max(1, int(width) // step))
    return [Block(i, j, r, c) for i, r in enumerate(rows) for j, c in enumerate(cols)]


def sub_grid(block, tile, overlap):
    """The :class:`SubGrid` of ``block``'s tiles."""
    height = block.rows.window[1] - block.rows.window[0]
    width = block.cols.window[1] - block.cols.window[0]
    return SubGrid(height, width, min(tile, height), min(tile, width), overlap, block.rows.starts, block.cols.starts)


def whole_scene(model, output, tile, overlap, sources=None):
    """The one block of a scene that is not cut (a scene of a list of pairs)."""
    return plan_blocks(model, output, tile, overlap, 1 << 40, sources=sources)[0]
