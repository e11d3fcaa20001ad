"""The cache of optimised ONNX graphs: the second session of a weights file and tile shape comes from it and gives
the same answers; a damaged entry is rebuilt; an unusable cache folder only costs time; the cache stays small."""

import numpy as np
import pytest

from model.inference.runtime import load_predictor
from model.inference.session_cache import cache_dir
from model.vocabulary import SESSION_CACHE_FILES
from model.weights import open_weights

pytest.importorskip("onnxruntime")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("EDC_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _predict(path, size=48):
    rng = np.random.default_rng(1)
    batch = rng.random((2, 3, size, size), np.float32), rng.random((2, 1, size, size), np.float32)
    return load_predictor(open_weights(path), device="cpu", log=None).predict(*batch)["probabilities"]


def test_second_session_comes_from_the_cache(tiny_onnx, cache):
    first = _predict(tiny_onnx)
    entries = list(cache.glob("edc-*.onnx"))
    assert len(entries) == 1 and not list(cache.glob("*.part"))
    entries[0].write_bytes(entries[0].read_bytes())  # same content, new mtime: the next load must still work
    np.testing.assert_array_equal(_predict(tiny_onnx), first)
    assert list(cache.glob("edc-*.onnx")) == entries
    _predict(tiny_onnx, size=40)  # another tile shape: another entry
    assert len(list(cache.glob("edc-*.onnx"))) == 2


def test_damaged_entry_is_rebuilt(tiny_onnx, cache):
    first = _predict(tiny_onnx)
    entry, = cache.glob("edc-*.onnx")
    entry.write_bytes(b"not an onnx graph")
    np.testing.assert_array_equal(_predict(tiny_onnx), first)
    assert entry.stat().st_size > 1000


def test_unusable_cache_folder_still_maps(tiny_onnx, tmp_path, monkeypatch):
    blocker = tmp_path / "a file"
    blocker.write_text("the cache folder cannot be made under a file")
    monkeypatch.setenv("EDC_CACHE_DIR", str(blocker / "cache"))
    assert _predict(tiny_onnx).shape == (2, 2, 48, 48)
    assert cache_dir() == blocker / "cache" and blocker.is_file()


def test_cache_keeps_the_most_recent_entries(tiny_onnx, cache):
    cache.mkdir()
    for k in range(SESSION_CACHE_FILES + 3):
        (cache / f"edc-old{k}.onnx").write_bytes(b"x")
    _predict(tiny_onnx)
    kept = list(cache.glob("edc-*.onnx"))
    assert len(kept) == SESSION_CACHE_FILES and any(p.stat().st_size > 1000 for p in kept)


def test_threads_reach_onnx_runtime(tiny_onnx, cache):
    """A Dask worker's share of the cores (threads per worker) reaches its ONNX Runtime sessions."""
    predictor = load_predictor(open_weights(tiny_onnx), device="cpu", log=None, threads=1)
    rng = np.random.default_rng(0)
    predictor.predict(rng.random((1, 3, 32, 32), np.float32), rng.random((1, 1, 32, 32), np.float32))
    session, = predictor.sessions.values()
    assert session.get_session_options().intra_op_num_threads == 1
