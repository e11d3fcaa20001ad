"""The tiling engine: tile layout, blending weights, exact reconstruction, row-by-row output, memory, cancel, and a
property test over random sizes, tiles, overlaps, holes, batch sizes and prefetching."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from model.errors import EDCCancelled
from model.inference.tiling import TileGrid, blend_weights, ramp, run_tiled, tile_starts


def test_tile_starts_cover_with_overlap():
    assert tile_starts(100, 40, 10) == [0, 30, 60]
    assert tile_starts(30, 64, 16) == [0]  # smaller than one tile: one tile of the scene's size
    for length, tile, overlap in [(257, 64, 16), (64, 64, 0), (1000, 256, 128)]:
        starts = tile_starts(length, tile, overlap)
        assert starts[0] == 0 and starts[-1] + tile == length
        assert all(b - a <= tile - overlap for a, b in zip(starts, starts[1:]))


def test_blend_weights_are_smooth_symmetric_and_never_zero():
    w = ramp(64, 16)
    assert w.min() > 0 and w.max() == 1 and np.allclose(w, w[::-1])
    assert (np.diff(w[:32]) >= 0).all()
    assert blend_weights(8, 12, 0).min() == 1


def _scene(rng, height, width, channels=2):
    data = rng.normal(size=(channels, height, width)).astype(np.float32)
    valid = rng.random((height, width)) > 0.1
    return data, valid


def _run(data, valid, tile, overlap, batch_size=3, **kw):
    grid = TileGrid(data.shape[1], data.shape[2], tile, overlap)
    out = np.full(data.shape, np.nan, np.float32)
    writes = np.zeros(data.shape[1:], int)
    written_valid = np.zeros(data.shape[1:], bool)
    rows = []

    def read_window(y, x, h, w):
        return (data[:, y:y + h, x:x + w],), valid[y:y + h, x:x + w]

    def write_rows(y, values, ok):
        rows.append((y, values.shape[1]))
        out[:, y:y + values.shape[1]] = values
        writes[y:y + values.shape[1]] += 1
        written_valid[y:y + values.shape[1]] = ok

    run_tiled(grid, data.shape[0], read_window, lambda batch: batch[0] * 1.0, write_rows, batch_size, **kw)
    return out, writes, written_valid, rows


def test_identity_model_is_reconstructed_exactly_row_by_row():
    rng = np.random.default_rng(0)
    data, valid = _scene(rng, 150, 97)
    out, writes, ok, rows = _run(data, valid, 40, 12)
    assert (writes == 1).all() and (ok == valid).all()
    np.testing.assert_allclose(out[:, valid], data[:, valid], rtol=1e-5, atol=1e-6)
    assert [y for y, _ in rows] == sorted(y for y, _ in rows) and len(rows) > 3  # written as tile rows complete


def test_memory_does_not_grow_with_scene_height():
    """The engine holds a batch of input tiles and one tile height of blending rows: its peak memory is the same
    for a scene 8 times as high (the scene itself is allocated before the measurement)."""
    import tracemalloc
    rng = np.random.default_rng(1)
    peaks = []
    for height in (64, 512):
        data, valid = _scene(rng, height, 200)
        tracemalloc.start()
        run_tiled(TileGrid(height, 200, 32, 8), 2, lambda y, x, h, w: ((data[:, y:y + h, x:x + w],),
                                                                      valid[y:y + h, x:x + w]),
                  lambda b: b[0] * 1.0, lambda y, v, ok: None, batch_size=4)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    # a float32 copy of the larger scene alone would be 800 kB
    assert peaks[1] < 1.2 * peaks[0] and peaks[1] < 300_000, peaks


def test_cancel_is_checked_per_batch_and_progress_reported():
    rng = np.random.default_rng(2)
    data, valid = _scene(rng, 100, 100)
    calls, progress = [], []

    def cancelled():
        calls.append(1)
        return len(calls) > 3

    with pytest.raises(EDCCancelled):
        _run(data, valid, 32, 8, batch_size=1, is_cancelled=cancelled, progress=progress.append)
    assert 0 < len(progress) < 16 and progress == sorted(progress)


def test_all_invalid_tiles_are_not_predicted():
    data = np.ones((1, 64, 64), np.float32)
    valid = np.zeros((64, 64), bool)
    valid[40:, 40:] = True
    seen = []
    grid = TileGrid(64, 64, 32, 0)
    run_tiled(grid, 1, lambda y, x, h, w: ((data[:, y:y + h, x:x + w],), valid[y:y + h, x:x + w]),
              lambda b: seen.append(len(b[0])) or b[0], lambda y, v, ok: None, batch_size=8)
    assert sum(seen) == 1


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(height=st.integers(1, 90), width=st.integers(1, 90), tile=st.integers(32, 80), data=st.data(),
       batch=st.integers(1, 5), seed=st.integers(0, 2 ** 16), prefetch=st.booleans())
def test_property_engine_covers_every_valid_pixel_exactly_once(height, width, tile, data, batch, seed, prefetch):
    """The engine sees float inputs and a validity mask (dtypes and nodata values reach it through the readers:
    tests/unit/inference/test_segment.py has that property end to end)."""
    overlap = data.draw(st.integers(0, tile // 2))
    rng = np.random.default_rng(seed)
    inputs = rng.normal(size=(2, height, width)).astype(np.float32)
    valid = rng.random((height, width)) >= data.draw(st.sampled_from([0.0, 0.2, 1.0]))
    out, writes, ok, _ = _run(inputs, valid, tile, overlap, batch_size=batch, prefetch=prefetch)
    assert (writes == 1).all()  # every pixel written exactly once
    assert (ok == valid).all()  # nodata exactly where an input is nodata
    np.testing.assert_allclose(out[:, valid], inputs[:, valid], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("prefetch", [True, False])
def test_reads_run_in_order_one_batch_ahead_only_with_prefetch(prefetch):
    import threading
    data, valid = _scene(np.random.default_rng(4), 100, 100)
    events, readers = [], set()

    def read_window(y, x, h, w):
        events.append(("read", y, x))
        readers.add(threading.current_thread() is threading.main_thread())
        return (data[:, y:y + h, x:x + w],), valid[y:y + h, x:x + w]

    def predict(batch):
        events.append(("predict",))
        return batch[0]

    run_tiled(TileGrid(100, 100, 40, 10), 2, read_window, predict, lambda y, v, ok: None, batch_size=3,
              prefetch=prefetch)
    reads = [e[1:] for e in events if e[0] == "read"]
    assert reads == sorted(reads)  # rows of tiles top to bottom, left to right
    assert readers == {not prefetch}  # a reader thread only with prefetch
    if not prefetch:  # each batch is read when it is needed, between the network's passes
        assert [e[0] for e in events[:8]] == ["read"] * 3 + ["predict"] + ["read"] * 3 + ["predict"]
