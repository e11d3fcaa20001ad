"""Undeclared fill values and SAR units told from the values (model/geo/fill.py, model/geo/units.py); the real cases
run through edc:segment in tests/integration/qgis/test_real_inputs_units.py."""

import numpy as np
import pytest

from model.geo.fill import fill_values, joint_fill_value, usable
from model.geo.units import AMPLITUDE, DB, POWER, sar_units


def _speckle(shape=(1, 64, 64), seed=0):
    return np.random.default_rng(seed).gamma(1.0, 0.05, shape).astype(np.float32)


def test_a_border_of_one_value_is_fill_in_sar_whatever_the_value():
    for value in (-9999.0, 0.0, 17.5):
        sar = 10 * np.log10(_speckle())
        sar[:, :10] = value
        (found,) = fill_values(sar, np.ones((64, 64), bool), any_value=True)
        assert found[0] == value and found[1] == pytest.approx(10 / 64)


def test_scattered_repeats_and_tiny_rasters_are_not_fill():
    sar = np.round(10 * np.log10(_speckle()), 0)  # few distinct values, none forming an area
    assert fill_values(sar, np.ones((64, 64), bool), any_value=True) == [None]
    assert fill_values(np.zeros((1, 5, 5), np.float32), np.ones((5, 5), bool), any_value=True) == [None]


def test_optical_fill_only_for_the_usual_values_in_every_band():
    optical = np.random.default_rng(1).integers(100, 200, (3, 64, 64)).astype(np.uint8)
    optical[:, :, :12] = 0      # a fill border
    optical[:, 30:50, 30:50] = 255  # a saturated cloud: real data
    valid = np.ones((64, 64), bool)
    assert joint_fill_value(optical, valid) == (0, pytest.approx(12 / 64))
    optical[:, :, :12] = 150
    assert joint_fill_value(optical, valid) is None
    optical[:2, 40:, :] = 0  # deep water: 0 in the infrared bands, not in the green one
    assert joint_fill_value(optical, valid) is None


def test_a_declared_nodata_area_is_not_counted_again():
    sar = 10 * np.log10(_speckle())
    sar[:, :10] = -9999.0  # rows 0..9
    valid = np.ones((64, 64), bool)
    valid[:10] = False
    assert fill_values(sar, valid, any_value=True) == [None]


def test_usable_means_varying_over_valid_pixels():
    band = np.zeros((8, 8), np.float32)
    assert not usable(band, np.ones((8, 8), bool))
    band[0, 0] = 1
    assert usable(band, np.ones((8, 8), bool)) and not usable(band, band == 0)


@pytest.mark.parametrize("values, names, expected", [
    (10 * np.log10(_speckle()), [""], DB),
    (_speckle(), [""], POWER),
    (np.sqrt(_speckle()), [""], POWER),  # amplitude: linear, same map after percentile normalisation
    (_speckle() + 40, ["Sigma0_VV_db"], DB),
    (_speckle(), ["Amplitude_VV"], AMPLITUDE),
    (_speckle(), ["Intensity_VH"], POWER),
    ((_speckle() * 1000).clip(0, 255).astype(np.uint8), [""], DB),
])
def test_sar_units_from_names_and_values(values, names, expected):
    units, why = sar_units(names, values, np.ones(values.shape[1:], bool))
    assert units == expected, why


def test_sar_units_choice_and_complex_values_win():
    values = 10 * np.log10(_speckle())
    valid = np.ones((64, 64), bool)
    assert sar_units([""], values, valid, choice=POWER)[0] == POWER
    assert sar_units([""], _speckle(), valid, complex_values=True) == (POWER, sar_units([""], values, valid,
                                                                                        complex_values=True)[1])
