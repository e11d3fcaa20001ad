"""bench/int8.py: both settings map the same generated scene, timed in alternating runs, and their maps agree."""

import pytest

from bench import int8
from bench.common import DEFAULT_ONNX


@pytest.mark.slow  # two ONNX Runtime sessions of the default weights
def test_int8_and_float32_map_the_scene_alike(tmp_path, monkeypatch):
    pytest.importorskip("onnxruntime")
    if not DEFAULT_ONNX.exists():
        pytest.skip("the default ONNX weights are not here")
    monkeypatch.setenv("EDC_CACHE_DIR", str(tmp_path / "cache"))
    result = int8.main(["--size", "256", "--repeats", "1", "--workdir", str(tmp_path)])
    assert len(result["runs"][True]) == len(result["runs"][False]) == 1
    assert result["ratio"] == pytest.approx(result["int8_s"] / result["float32_s"])
    assert result["agreement"] > 0.99
    graphs = [p.read_bytes() for p in (tmp_path / "cache").glob("edc-*.onnx")]  # one session of each kind ran
    assert sorted(b"DynamicQuantizeMatMul" in g for g in graphs) == [False, True]
    assert (tmp_path / "int8.tif").is_file() and (tmp_path / "float32.tif").is_file()
