"""Shared fixtures: tiny random EDC weights shaped like the default ones, the GeoTIFF writer and synthetic pairs
(all from ``helpers``), and the real data folder."""

import os
from pathlib import Path

import pytest
from helpers.rasters import stripe_pair, write_raster
from helpers.real_inputs import SHARED_DATA
from helpers.weights import make_weights, onnx_copy

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True, scope="session")
def _session_cache(tmp_path_factory):
    """ONNX Runtime's optimised graphs (model/inference/session_cache.py) go to a folder of this test session, not to
    the user's cache; subprocesses (qgis_process, CLIs) inherit it."""
    os.environ["EDC_CACHE_DIR"] = str(tmp_path_factory.mktemp("edc-cache"))


@pytest.fixture
def shared_data():
    """The real samples in ../shared/data; the test is skipped (with the reason) where the folder is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real sample data not found at {SHARED_DATA} (a clone without ../shared)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory):
    """Tiny random EDC like the default weights: 3 optical bands (B11, B8, B3), 1 SAR band (VV), 2 classes."""
    return make_weights(tmp_path_factory.mktemp("weights") / "tiny_edc.pt")


@pytest.fixture(scope="session")
def tiny_onnx(tiny_weights, tmp_path_factory):
    """``tiny_weights`` exported to ONNX (once per session)."""
    pytest.importorskip("onnx")
    return onnx_copy(tiny_weights, tmp_path_factory.mktemp("onnx") / "tiny_edc.onnx")


@pytest.fixture(scope="session")
def weights_factory(tmp_path_factory):
    """``weights_factory(n_optical, n_sar, **kw)`` -> path of tiny random weights (cached per argument set)."""
    cache = {}

    def make(n_optical=3, n_sar=1, **kw):
        key = (n_optical, n_sar, tuple(sorted(kw.items())))
        if key not in cache:
            cache[key] = make_weights(tmp_path_factory.mktemp("weights") / "w.pt", n_optical, n_sar, **kw)
        return cache[key]
    return make


@pytest.fixture(scope="session")
def raster_writer():
    """The :func:`write_raster` helper, as a fixture (test modules cannot import conftest reliably)."""
    return write_raster


@pytest.fixture
def make_pair(tmp_path):
    """``make_pair(rows, cols, ...)`` -> (optical path, SAR path): :func:`helpers.rasters.stripe_pair` in this test's
    folder."""
    return lambda *args, **kw: stripe_pair(tmp_path, *args, **kw)
