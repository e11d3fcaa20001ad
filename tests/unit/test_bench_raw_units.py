"""bench/raw_units.py: the plausibility figures on a small synthetic map, and one whole run on the real raw-unit
pairs of ../shared/data with the bundled weights."""

from pathlib import Path

import numpy as np
import pytest

from bench import raw_units
from bench.common import DEFAULT_ONNX, ROOT

SHARED = ROOT.parent / "shared" / "data"


def test_plausibility_counts_water_share_medians_and_dark_low_nir_pixels():
    classes = np.array([[1, 1, 0, 0], [1, 0, 0, 255]], np.uint8)
    vv = np.array([[-22.0, -20.0, -10.0, -9.0], [-12.0, -21.0, -8.0, -30.0]])
    nir = np.array([[100.0, 120.0, 3000.0, 2800.0], [900.0, 110.0, 2500.0, 50.0]])
    share, vv_water, vv_rest, dark = raw_units.plausibility(classes, vv, nir, water=1)
    assert share == pytest.approx(3 / 7)  # the 255 pixel is left out
    assert vv_water == pytest.approx(-20.0) and vv_rest == pytest.approx(-9.5)
    # NIR's lowest 20 % of the 7 valid pixels is the 100 and 110 pixels; both are dark; one of them is water
    assert dark == pytest.approx(1 / 2)


@pytest.mark.real_data
@pytest.mark.skipif(not SHARED.exists(), reason="../shared/data is not present (real raw-unit pairs)")
def test_whole_run_on_the_real_raw_unit_pairs(capsys):
    raw_units.main([str(DEFAULT_ONNX), "--data", str(SHARED)])
    out = capsys.readouterr().out
    assert out.count("## ") == 3, out
    assert out.count(f"{Path(DEFAULT_ONNX)}: water ") == 3, out
