"""Fixtures for the QGIS layer: the plugin imported as package ``edc``, the registered provider, tiny weights and a
small synthetic optical + SAR pair (different resolutions and origins, a nodata corner)."""

import os
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[3]
CLASSES = (("bare soil", "#d8b365"), ("vegetation", "#33a02c"), ("water", "#1f78b4"))
_KEEP = []


@pytest.fixture(scope="session")
def plugin_parent(tmp_path_factory):
    """A folder holding a link ``edc`` -> the repository root, as QGIS sees the installed plugin."""
    parent = tmp_path_factory.mktemp("plugins")
    (parent / "edc").symlink_to(REPO, target_is_directory=True)
    return parent


@pytest.fixture(scope="session")
def edc(plugin_parent):
    """The plugin package imported the way QGIS imports it (``edc``), so its relative imports of ``edc.model`` work."""
    sys.path.insert(0, str(plugin_parent))
    import edc as package
    return package


def _registered_provider():
    """The ``edc`` provider registered next to QGIS's own (native:*, gdal:*) providers (registered again when a test
    such as the plugin unload test has removed it; the registry owns it)."""
    from qgis.core import QgsApplication

    from edc.processing_provider.provider import EDCProvider

    registry = QgsApplication.processingRegistry()
    if registry.providerById("edc") is None:
        _KEEP.append(EDCProvider())  # the Python object must stay alive, or QGIS keeps a provider without its id
        assert registry.addProvider(_KEEP[-1])
    return registry.providerById("edc")


@pytest.fixture
def provider(edc, qgis_processing):
    return _registered_provider()


@pytest.fixture(scope="module")
def provider_module(edc, qgis_processing):
    """``provider`` for module-scoped fixtures that run the algorithm once for several tests."""
    return _registered_provider()


@pytest.fixture(scope="session")
def edc_weights(weights_factory):
    """Tiny random EDC weights (tests/conftest.py) for the 4-band optical + 2-band SAR scene, three classes."""
    return weights_factory(4, 2, classes=CLASSES, tile_size=64, overlap=8)


@pytest.fixture(scope="session")
def edc_classes(edc_weights):
    """[(name, '#rrggbb')] of ``edc_weights``, read back from the file."""
    from model.weights import open_weights

    return [(c["name"], c["color"]) for c in open_weights(edc_weights).metadata["classes"]]


@pytest.fixture(scope="session")
def scene(tmp_path_factory, raster_writer):
    """optical.tif: 4 x 100 x 120 UInt16 at 10 m, nodata 0 in the top-left 10 x 10 corner; sar.tif: 2 bands
    Float32 at 20 m whose origin is shifted by 35 m / -25 m and which covers the whole optical footprint."""
    folder = tmp_path_factory.mktemp("scene")
    rng = np.random.default_rng(1)
    rows, cols = 100, 120
    yy, xx = np.mgrid[0:rows, 0:cols]
    water = (xx + 0.5 * yy) < 50
    optical = rng.integers(200, 3000, size=(4, rows, cols)).astype(np.uint16)
    optical[3][water] = 150
    optical[:, :10, :10] = 0
    sar = rng.normal(-12, 2, size=(2, rows // 2 + 4, cols // 2 + 4)).astype(np.float32)
    x0, y0 = 500000.0, 4600000.0
    return {
        "optical": raster_writer(folder / "optical.tif", optical, (x0, 10.0, 0, y0, 0, -10.0), 32631, nodata=0),
        "sar": raster_writer(folder / "sar.tif", sar, (x0 - 35, 20.0, 0, y0 + 25, 0, -20.0), 32631, nodata=-9999),
        "shape": (rows, cols), "pixel_area": 100.0, "nodata_corner": (slice(0, 10), slice(0, 10)),
    }


@pytest.fixture(scope="session")
def qgis_process(tmp_path_factory, plugin_parent):
    """(argv prefix, environment) to run qgis_process with the plugin enabled in a throw-away profile.

    Runs qgis_process.bin directly: Debian's /usr/bin/qgis_process wrapper adds QGIS_OPTS=--noversioncheck,
    which qgis_process does not accept."""
    import subprocess
    import sysconfig

    binary = "/usr/bin/qgis_process.bin"
    if not os.access(binary, os.X_OK):
        pytest.skip("qgis_process.bin is not installed (Debian package qgis)")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", QGIS_PLUGINPATH=str(plugin_parent),
               QGIS_CUSTOM_CONFIG_PATH=str(tmp_path_factory.mktemp("profile")),
               PYTHONPATH=os.pathsep.join([sysconfig.get_paths()["purelib"], os.environ.get("PYTHONPATH", "")]))
    enabled = subprocess.run([binary, "plugins", "enable", "edc"], env=env, capture_output=True, text=True,
                             timeout=120)
    assert enabled.returncode == 0, enabled.stdout + enabled.stderr
    return [binary], env
