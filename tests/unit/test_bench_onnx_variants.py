"""bench/onnx_variants.py: two copies of one network agree on every pixel; agreement counts differing classes."""

import numpy as np
import pytest

from bench import onnx_variants


def test_two_copies_of_one_network_agree_and_the_first_is_the_unit(tiny_onnx, tmp_path):
    pytest.importorskip("onnxruntime")
    copy = tmp_path / "copy.onnx"
    copy.write_bytes(tiny_onnx.read_bytes())
    rows = onnx_variants.main([str(tiny_onnx), str(copy), "--tile", "64", "--tiles", "2", "--rounds", "2"])
    first, second = rows[str(tiny_onnx)], rows[str(copy)]
    assert first["relative"] == 1.0 and first["agreement"] == 1.0
    assert second["agreement"] == 1.0 and second["ms_per_tile"] > 0


class _Fixed:
    """Stands in for a session: the same probabilities for every tile."""

    def __init__(self, probabilities):
        self.probabilities = probabilities

    def run(self, names, feeds):
        return [self.probabilities]


def test_agreement_is_the_share_of_pixels_with_the_same_class():
    left = np.zeros((1, 2, 2, 2), np.float32)
    left[:, 1] = 1.0  # class 1 everywhere
    right = left.copy()
    right[0, :, 0, 0] = (1.0, 0.0)  # class 0 at one pixel of four
    tiles = [(None, None)] * 3
    assert onnx_variants.agreement(_Fixed(right), _Fixed(left), tiles) == 0.75
    assert onnx_variants.agreement(_Fixed(left), _Fixed(left), tiles) == 1.0
