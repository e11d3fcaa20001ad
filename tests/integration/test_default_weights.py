"""The bundled default weights: ``edc_default.onnx`` is what edc:segment maps with; it needs ONNX Runtime alone (no
torch, no onnx package, int8 matrix products on the CPU made at load) and gives the map of the PyTorch copy
``edc_default.pt`` it was exported from (in float32; with int8 but for a few pixels)."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
ONNX, PT = REPO / "resources" / "edc_default.onnx", REPO / "resources" / "edc_default.pt"
SAMPLE = REPO / "resources" / "sample"

# Runs in a fresh interpreter where importing torch or onnx fails: maps the sample with the defaults (int8 on the
# CPU) and in float32, says which modules it loaded.
WITHOUT_TORCH = """
import json, sys
sys.modules["torch"] = sys.modules["onnx"] = None
from model.inference import SegmentOptions, segment
result = segment(SegmentOptions({optical!r}, {sar!r}, {weights!r}, {output!r}, confidence={confidence!r}))
segment(SegmentOptions({optical!r}, {sar!r}, {weights!r}, {exact!r}, confidence={exact_confidence!r},
                       cpu_int8=False))
print(json.dumps({{"device": result.device, "loaded": sorted(m for m in ("torch", "onnx", "onnxruntime")
                                                          if sys.modules.get(m) is not None)}}))
"""


def _read(path):
    from osgeo import gdal
    ds = gdal.Open(str(path))
    return ds.ReadAsArray()


@pytest.fixture(scope="module")
def onnx_run(tmp_path_factory):
    """The sample mapped with the default ONNX weights in a Python without torch: {"int8": (land cover, confidence),
    "float32": (land cover, confidence), "answer": ...}."""
    pytest.importorskip("onnxruntime")
    out = tmp_path_factory.mktemp("default")
    code = WITHOUT_TORCH.format(optical=str(SAMPLE / "optical.tif"), sar=str(SAMPLE / "sar.tif"), weights=str(ONNX),
                                output=str(out / "map.tif"), confidence=str(out / "confidence.tif"),
                                exact=str(out / "exact.tif"), exact_confidence=str(out / "exact_confidence.tif"))
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return {"int8": (_read(out / "map.tif"), _read(out / "confidence.tif")),
            "float32": (_read(out / "exact.tif"), _read(out / "exact_confidence.tif")),
            "answer": json.loads(done.stdout.strip().splitlines()[-1])}


def test_default_onnx_maps_without_torch(onnx_run):
    answer = onnx_run["answer"]
    assert answer["loaded"] == ["onnxruntime"]
    assert answer["device"] == "ONNX Runtime CPUExecutionProvider (int8 matrix products)"


def test_default_onnx_is_small_and_float16():
    from model.weights.onnx_proto import io_names
    assert ONNX.stat().st_size < 21e6  # float16 weights: the plugin ZIP stays under the repository's 25 MB
    assert io_names(ONNX.read_bytes()) == ["probabilities", "cloudfree", "reliability"]
    assert ONNX.read_bytes().count(b".float16") > 100  # the weights are stored as float16, cast when loaded


@pytest.mark.slow
def test_default_onnx_gives_the_map_of_the_pytorch_weights(onnx_run, tmp_path):
    pytest.importorskip("torch")
    from helpers.inference import run_segment
    run_segment(SAMPLE / "optical.tif", SAMPLE / "sar.tif", PT, tmp_path / "pt.tif",
                confidence=tmp_path / "pt_confidence.tif")
    pt_map, pt_confidence = _read(tmp_path / "pt.tif"), _read(tmp_path / "pt_confidence.tif")
    onnx_map, onnx_confidence = onnx_run["float32"]
    assert np.mean(onnx_map == pt_map) > 0.9999  # folded weights rounded to float16: 2 of 262,144 pixels differ
    assert np.abs(onnx_confidence - pt_confidence).max() < 2e-3
    int8_map, int8_confidence = onnx_run["int8"]
    print(f"int8: {np.mean(int8_map != pt_map):.2e} of the pixels differ, confidence "
          f"{np.abs(int8_confidence - pt_confidence).max():.4f} at most")
    assert np.mean(int8_map == pt_map) > 0.999
    assert np.abs(int8_confidence - onnx_confidence).max() > 1e-5  # the int8 graph did run
