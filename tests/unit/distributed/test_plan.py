"""Blocks of a scene: their own pixels cover the output exactly once, and each runs every scene tile that touches
them, at the tile's place in the scene (the condition for the whole-scene answer)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from model.distributed.plan import plan_blocks, sub_grid, whole_scene
from model.geo.grid import Grid
from model.inference.tiling import TileGrid


def grid(width, height, pixel=10.0):
    return Grid((0.0, pixel, 0.0, 0.0, 0.0, -pixel), "", width, height)


def check_blocks(model, output, tile, overlap, block_size, block_width=None):
    blocks = plan_blocks(model, output, tile, overlap, block_size, block_width)
    owner = np.zeros((output.height, output.width), int)
    scene = TileGrid(model.height, model.width, tile, overlap)
    for block in blocks:
        (r0, r1), (c0, c1) = block.rows.output, block.cols.output
        owner[r0:r1, c0:c1] += 1
        tiles = sub_grid(block, tile, overlap)
        ys = [y + block.rows.window[0] for y in tiles.ys]
        xs = [x + block.cols.window[0] for x in tiles.xs]
        for starts, scene_starts, own, size in ((ys, scene.ys, block.rows.own, scene.tile_h),
                                                (xs, scene.xs, block.cols.own, scene.tile_w)):
            assert starts == [s for s in scene_starts if s < own[1] and s + size > own[0]]
        for span, length in ((block.rows, tiles.height), (block.cols, tiles.width)):
            assert all(0 <= p < length for p in span.pick)
            assert span.own[0] + 0 <= span.pick[0] + span.window[0] and span.pick[-1] + span.window[0] < span.own[1]
    assert (owner == 1).all()
    return blocks


def test_blocks_of_whole_tiles_with_a_halo():
    # 700 rows in tiles of 256 with 32 overlap start at 0, 224, 444; 1000 columns at 0, 224, 448, 672, 744
    blocks = check_blocks(grid(1000, 700), grid(1000, 700), 256, 32, 600)  # 600 px: two tile steps of 224
    assert [b.rows.own for b in blocks if b.col == 0] == [(0, 444), (444, 700)]
    assert [b.cols.own for b in blocks if b.row == 0] == [(0, 448), (448, 744), (744, 1000)]
    below = [b for b in blocks if b.row == 1][0]
    assert below.rows.window == (224, 700) and below.rows.starts == (0, 220)  # the tile above reaches into it
    assert blocks[0].rows.window == (0, 480)


def test_strips_of_the_whole_width_have_no_column_halo():
    blocks = check_blocks(grid(1000, 700), grid(1000, 700), 256, 32, 600, block_width=0)
    assert [(b.rows.own, b.cols.own, b.cols.window) for b in blocks] == [((0, 444), (0, 1000), (0, 1000)),
                                                                         ((444, 700), (0, 1000), (0, 1000))]


def test_one_block_when_the_block_is_larger_than_the_scene():
    block = whole_scene(grid(300, 200), grid(300, 200), 128, 16)
    assert block.rows.own == block.rows.window == (0, 200) and block.cols.output == (0, 300)


def test_scene_smaller_than_a_tile():
    check_blocks(grid(50, 40), grid(50, 40), 256, 32, 64)


@pytest.mark.parametrize("factor", [0.5, 2.0, 3.3])
def test_blocks_on_an_output_grid_other_than_the_model_grid(factor):
    model = grid(400, 300)
    output = grid(round(400 * factor), round(300 * factor), 10.0 / factor)
    check_blocks(model, output, 64, 16, 100)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 600), st.integers(1, 600), st.sampled_from([(64, 0), (64, 16), (128, 32), (256, 128)]),
       st.integers(1, 700), st.sampled_from([None, 0, 50, 300]))
def test_blocks_partition_any_scene(width, height, tiling, block_size, block_width):
    check_blocks(grid(width, height), grid(width, height), *tiling, block_size, block_width)
