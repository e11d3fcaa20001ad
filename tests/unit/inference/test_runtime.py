"""Runtimes: PyTorch and ONNX Runtime predictors, device choice, missing dependencies, GPU out-of-memory fallback."""

import sys

import numpy as np
import pytest

from model.errors import EDCDependencyError, EDCInputError
from model.inference.runtime import Predictor, is_out_of_memory
from model.inference.runtime import load_predictor as load_opened
from model.weights import open_weights


def load_predictor(path, **kw):
    return load_opened(open_weights(path), **kw)


@pytest.fixture(autouse=True)
def _one_thread():
    import torch
    torch.set_num_threads(1)


def _batch(n=2, size=40):
    rng = np.random.default_rng(0)
    return rng.random((n, 3, size, size), np.float32), rng.random((n, 1, size, size), np.float32)


def test_torch_predictor_outputs(tiny_weights):
    messages = []
    predictor = load_predictor(tiny_weights, device="cpu", log=messages.append)
    out = predictor.predict(*_batch())
    assert out["probabilities"].shape == (2, 2, 40, 40)
    np.testing.assert_allclose(out["probabilities"].sum(1), 1, atol=1e-5)
    assert out["cloudfree"].shape == (2, 3, 40, 40) and out["reliability"].shape == (2, 1, 40, 40)
    assert predictor.device == "PyTorch on CPU" and messages[0] == "Inference device: PyTorch on CPU"
    assert "onnx_export tiny_edc.pt tiny_edc.onnx" in messages[1] and "faster" in messages[1]  # onnxruntime is here
    assert predictor.default_batch == 4  # BATCH_SIZE 0 (automatic) on the CPU


def test_onnx_predictor_matches_torch(tiny_weights, tiny_onnx):
    pytest.importorskip("onnxruntime")
    onnx_pred = load_predictor(tiny_onnx, device="cpu", int8=False)
    assert onnx_pred.device == "ONNX Runtime CPUExecutionProvider (float32 matrix products)"
    batch = _batch(3, 64)
    a, b = onnx_pred.predict(*batch), load_predictor(tiny_weights, device="cpu").predict(*batch)
    for key in a:
        np.testing.assert_allclose(a[key], b[key], atol=1e-4)


def test_onnx_on_the_cpu_multiplies_int8_matrices_by_default_and_stays_close(tiny_weights, tiny_onnx, tmp_path,
                                                                            monkeypatch):
    """The default CPU session runs the int8 graph (it is what the session cache holds) and gives nearly the float
    network's answers; int8=False keeps float32."""
    pytest.importorskip("onnxruntime")
    monkeypatch.setenv("EDC_CACHE_DIR", str(tmp_path / "cache"))
    messages = []
    int8 = load_predictor(tiny_onnx, device="cpu", log=messages.append)
    assert int8.device == "ONNX Runtime CPUExecutionProvider (int8 matrix products)"
    assert messages[0] == f"Inference device: {int8.device}"
    batch = _batch(2, 64)
    a = int8.predict(*batch)
    b = load_predictor(tiny_weights, device="cpu").predict(*batch)
    for key in a:
        assert np.abs(a[key] - b[key]).max() < 0.05, key
    assert np.mean(a["probabilities"].argmax(1) == b["probabilities"].argmax(1)) > 0.98
    cached = list((tmp_path / "cache").glob("edc-*.onnx"))
    assert len(cached) == 1 and b"DynamicQuantizeMatMul" in cached[0].read_bytes()
    exact = load_predictor(tiny_onnx, device="cpu", int8=False).predict(*batch)
    assert np.abs(exact["probabilities"] - b["probabilities"]).max() < 1e-4
    assert np.abs(a["probabilities"] - exact["probabilities"]).max() > 1e-5  # int8 differs a little from float32
    float_graphs = [p for p in (tmp_path / "cache").glob("edc-*.onnx") if p not in cached]
    assert len(float_graphs) == 1 and b"DynamicQuantizeMatMul" not in float_graphs[0].read_bytes()


def test_an_int8_graph_that_cannot_be_built_falls_back_to_float32_and_says_so(tiny_onnx, tmp_path, monkeypatch):
    pytest.importorskip("onnxruntime")
    from model.inference import runtime

    def broken(data):
        raise RuntimeError("no kernel for DynamicQuantizeMatMul\nmore detail")
    monkeypatch.setattr(runtime, "quantize_matmuls", broken)
    monkeypatch.setenv("EDC_CACHE_DIR", str(tmp_path / "cache"))
    messages = []
    predictor = load_predictor(tiny_onnx, device="cpu", log=messages.append)
    batch = _batch(1, 64)
    got = predictor.predict(*batch)["probabilities"]
    assert predictor.device == "ONNX Runtime CPUExecutionProvider (float32 matrix products)" and not predictor.int8
    assert messages[-1] == ("WARNING: int8 matrix products could not be used with 'tiny_edc.onnx' (no kernel for "
                            "DynamicQuantizeMatMul); computing in float32 (slower, same map).")
    want = load_predictor(tiny_onnx, device="cpu", int8=False).predict(*batch)["probabilities"]
    np.testing.assert_array_equal(got, want)


def test_cuda_requested_without_gpu_is_a_clear_error(tiny_weights, monkeypatch):
    import torch
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(EDCInputError, match="CUDA.*choose the device 'Automatic' or 'CPU'"):
        load_predictor(tiny_weights, device="cuda")


def test_cuda_requested_for_onnx_without_provider(tiny_onnx, monkeypatch):
    ort = pytest.importorskip("onnxruntime")
    path = tiny_onnx
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CPUExecutionProvider"])
    with pytest.raises(EDCInputError, match="CUDAExecutionProvider is not available"):
        load_predictor(path, device="cuda")
    assert load_predictor(path, device="auto").device.startswith("ONNX Runtime CPUExecutionProvider")


@pytest.mark.parametrize("module, weights, command", [("torch", "tiny_weights", "pip install torch"),
                                                       ("onnxruntime", "tiny_onnx", "pip install onnxruntime")])
def test_missing_runtime_names_the_install_command(request, monkeypatch, module, weights, command):
    path = request.getfixturevalue(weights)
    monkeypatch.setitem(sys.modules, module, None)  # makes "import <module>" fail
    with pytest.raises(EDCDependencyError, match=command):
        load_predictor(path)


class FakeGPU(Predictor):
    """Runs out of memory on the 'GPU' for batches larger than ``limit`` (0: always)."""

    def __init__(self, limit):
        super().__init__(log=None)
        self.limit, self.on_gpu, self.batches, self.warnings = limit, True, [], []
        self.log = self.warnings.append
        self.device = "fake CUDA"

    def _run(self, optical, sar):
        if self.on_gpu and len(optical) > self.limit:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        self.batches.append((len(optical), self.on_gpu))
        return {"probabilities": optical[:, :2], "cloudfree": optical, "reliability": optical[:, :1]}

    def _to_cpu(self):
        self.on_gpu, self.device = False, "fake CPU"


def test_out_of_memory_halves_the_batch_then_falls_back_to_cpu():
    optical, sar = _batch(4, 8)
    gpu = FakeGPU(limit=1)
    out = gpu.predict(optical, sar)
    np.testing.assert_array_equal(out["cloudfree"], optical)  # order kept
    assert gpu.batches == [(1, True)] * 4 and gpu.on_gpu
    assert [w for w in gpu.warnings if "using batches of" in w] == [
        "GPU out of memory with a batch of 4 tiles; using batches of 2.",
        "GPU out of memory with a batch of 2 tiles; using batches of 1."]
    gpu.predict(optical, sar)  # later batches are split at once, without new out-of-memory errors
    assert len(gpu.warnings) == 2 and gpu.batches == [(1, True)] * 8
    gpu = FakeGPU(limit=0)
    out = gpu.predict(optical, sar)
    np.testing.assert_array_equal(out["cloudfree"], optical)
    assert not gpu.on_gpu and gpu.device == "fake CPU" and all(not on for _, on in gpu.batches)
    assert any("continuing on the CPU" in w for w in gpu.warnings)


def test_other_errors_are_not_swallowed():
    class Broken(FakeGPU):
        def _run(self, optical, sar):
            raise ValueError("shape mismatch")
    with pytest.raises(ValueError):
        Broken(4).predict(*_batch(2, 8))
    assert is_out_of_memory(RuntimeError("CUDA error: out of memory")) and not is_out_of_memory(ValueError("x"))


def test_malloc_thresholds_are_set_once_on_glibc_linux():
    import platform
    import sys

    from model.inference import malloc
    expected = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"
    assert malloc.keep_freed_memory() is expected
    assert malloc.keep_freed_memory() is expected  # idempotent


def test_automatic_without_a_driver_stays_quiet_and_says_why(tiny_onnx, capfd, monkeypatch):
    """onnxruntime-gpu on a machine without an NVIDIA driver: no red ONNX Runtime error about libcublas or CUDA 13
    (users took it for a failure), one log line saying why the CPU is used."""
    ort = pytest.importorskip("onnxruntime")
    import ctypes
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    real_cdll = ctypes.CDLL

    def no_driver(name, *args, **kwargs):
        if str(name) in ("libcuda.so.1", "nvcuda.dll"):
            raise OSError(f"{name}: cannot open shared object file")
        return real_cdll(name, *args, **kwargs)
    monkeypatch.setattr(ctypes, "CDLL", no_driver)
    messages = []
    predictor = load_predictor(tiny_onnx, device="auto", log=messages.append)
    assert predictor.device.startswith("ONNX Runtime CPUExecutionProvider") and not predictor.on_gpu
    assert messages[0] == "ONNX Runtime runs on the CPU: no NVIDIA driver was found on this machine."
    printed = capfd.readouterr()
    assert "onnxruntime" not in printed.err.lower() and "cuda" not in printed.err.lower(), printed.err
    with pytest.raises(EDCInputError, match="no NVIDIA driver was found"):
        load_predictor(tiny_onnx, device="cuda")


def test_onnx_computes_only_the_outputs_asked_for(tiny_onnx):
    pytest.importorskip("onnxruntime")
    batch = _batch(2, 48)
    everything = load_predictor(tiny_onnx, device="cpu").predict(*batch)
    probabilities = load_predictor(tiny_onnx, device="cpu", outputs=("probabilities",))
    out = probabilities.predict(*batch)
    assert list(out) == ["probabilities"]
    np.testing.assert_allclose(out["probabilities"], everything["probabilities"], atol=1e-6)
    both = load_predictor(tiny_onnx, device="cpu", outputs=("probabilities", "reliability")).predict(*batch)
    assert list(both) == ["probabilities", "reliability"]
    stacked = probabilities.stacked(batch)
    assert stacked.shape == (2, 2, 48, 48)


def test_onnx_on_the_cpu_takes_any_tile_shape_and_batch(tiny_onnx, tiny_weights):
    """CPU sessions are built for one tile shape each: a run whose tiles change shape still gets right answers."""
    pytest.importorskip("onnxruntime")
    onnx_pred = load_predictor(tiny_onnx, device="cpu", int8=False)
    torch_pred = load_predictor(tiny_weights, device="cpu")
    for n, size in ((3, 64), (1, 40), (2, 64)):
        batch = _batch(n, size)
        np.testing.assert_allclose(onnx_pred.predict(*batch)["probabilities"],
                                   torch_pred.predict(*batch)["probabilities"], atol=1e-4)


@pytest.mark.slow
def test_half_onnx_export_is_half_the_size_and_agrees(tiny_weights, tmp_path):
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from helpers.weights import onnx_copy
    full, half = onnx_copy(tiny_weights, tmp_path / "full.onnx"), onnx_copy(tiny_weights, tmp_path / "half.onnx",
                                                                             half=True)
    assert half.stat().st_size < 0.75 * full.stat().st_size  # the tiny graph itself weighs: 0.67 here, 0.52 small
    types = {i.data_type for i in onnx.load(str(half)).graph.initializer if np.prod(i.dims) >= 64}
    assert types == {onnx.TensorProto.FLOAT16}
    batch = _batch(2, 48)
    a = load_predictor(full, device="cpu", int8=False).predict(*batch)
    b = load_predictor(half, device="cpu", int8=False).predict(*batch)
    for key in a:
        np.testing.assert_allclose(a[key], b[key], atol=2e-2)  # random float32 weights rounded to float16
    assert np.mean(a["probabilities"].argmax(1) == b["probabilities"].argmax(1)) > 0.99


@pytest.mark.slow
def test_int8_onnx_export_quantises_the_matrix_products(tiny_weights, tmp_path):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from model.weights.onnx_export import main as export_main
    export_main([str(tiny_weights), str(tmp_path / "int8.onnx"), "--int8", "--half"])
    data = (tmp_path / "int8.onnx").read_bytes()
    assert b"DynamicQuantizeMatMul" in data or b"MatMulInteger" in data
    batch = _batch(2, 48)
    a = load_predictor(tiny_weights, device="cpu").predict(*batch)["probabilities"]
    b = load_predictor(tmp_path / "int8.onnx", device="cpu").predict(*batch)["probabilities"]
    assert np.mean(a.argmax(1) == b.argmax(1)) > 0.98 and np.abs(a - b).max() < 0.1
