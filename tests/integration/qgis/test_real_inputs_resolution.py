"""The processing resolution, through ``processing.run("edc:segment")`` with the bundled default weights (trained
at 10 m): the real SSL4EO-S12 pair with its optical resampled to 3.3 m (as PlanetScope-like imagery comes) and its
SAR to 40 m.  By default the inputs are read at 10 m and the map comes back on the 3.3 m optical grid, close to the
10 m run's map; mapping the 3.3 m pixels as they are (what the code before this change did, now RESOLUTION = native)
gives a very different map, now with a warning."""

import re

import numpy as np
import pytest
from helpers.qgis_tasks import LogFeedback
from helpers.rasters import read_raster
from helpers.real_inputs import SHARED_DATA, on_grid_of, resampled, ssl4eo_pair

pytestmark = [pytest.mark.real_data, pytest.mark.slow]


@pytest.fixture(scope="module")
def runs(tmp_path_factory, provider_module):
    """{name: (output path, log)}: the 10 m reference and the 3.3 m optical by default, pixel for pixel, and with the
    map written at the model's resolution."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real sample data not found at {SHARED_DATA} (a clone without ../shared)")
    folder = tmp_path_factory.mktemp("ssl4eo_resolution")
    optical, sar = ssl4eo_pair(SHARED_DATA, folder)
    fine = resampled(optical, folder / "optical_3m.tif", 3)
    sar = resampled(sar, folder / "sar_40m.tif", 0.25, "average")
    return {"reference": _run(optical, sar, folder / "ref.tif"),
            "default": _run(fine, sar, folder / "fine.tif"),
            "native": _run(fine, sar, folder / "native.tif", RESOLUTION=1),
            "model grid": _run(fine, sar, folder / "model.tif", OUTPUT_GRID=1)}


def _run(optical, sar, output, **extra):
    import processing
    feedback = LogFeedback()
    result = processing.run("edc:segment", {"OPTICAL": str(optical), "SAR": str(sar), "OUTPUT": str(output),
                                            "DEVICE": 1, "TILE_SIZE": 512, **extra}, feedback=feedback)
    return result["OUTPUT"], "\n".join(feedback.messages)


def _water(classes):
    return float((classes == 1).sum() / (classes != 255).sum())


def _agreement(path, reference_path):
    a, b = on_grid_of(path, reference_path), read_raster(reference_path)[0]
    both = (a != 255) & (b != 255)
    return float((a[both] == b[both]).mean())


def test_a_3m_optical_is_mapped_at_the_weights_10m(runs):
    reference, log = runs["reference"]
    assert "WARNING" not in log, log  # 10 m optical: used as it is
    fine, log = runs["default"]
    assert re.search(r"the optical pixels are 3\.2\d* m, the weights were trained at 10 m: the inputs are read at "
                     r"10 m", log), log
    classes = read_raster(fine)[0]
    assert min(classes.shape) > 750  # on the 3.3 m optical grid
    assert _agreement(fine, reference) > 0.96
    # pixel for pixel (before): 0.88 agreement, 19 % water against 11 % (measured at 1 m)
    assert abs(_water(classes) - _water(read_raster(reference)[0])) < 0.03


def test_pixel_for_pixel_on_request_with_a_warning(runs):
    native, log = runs["native"]
    assert "mapping on the optical grid as asked" in log, log
    assert _agreement(native, runs["reference"][0]) < _agreement(runs["default"][0], runs["reference"][0])


def test_the_map_can_be_written_at_the_model_resolution(runs):
    model_path, _ = runs["model grid"]
    model = read_raster(model_path)[0]
    assert 250 <= model.shape[0] <= 265
    assert np.array_equal(on_grid_of(runs["default"][0], model_path), model)
