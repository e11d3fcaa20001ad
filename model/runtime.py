"""Inference runtimes: PyTorch for ``.pt`` weights, ONNX Runtime for ``.onnx`` weights.

``load_predictor(path, device, batch_size, log)`` returns a Predictor whose ``predict(optical, sar)`` takes float32
batches (B, C, h, w) of normalised inputs and returns numpy ``probabilities`` (softmax), ``cloudfree`` and
``reliability``.  A GPU out-of-memory error retries the batch in halves, then moves to the CPU with a warning.
"""

import ctypes
import ctypes.util
import functools
import platform
import sys
from pathlib import Path

import numpy as np

from .errors import EDCDependencyError, EDCInputError, EDCWeightsError
from .weights import read_metadata

DEVICES = ("auto", "cpu", "cuda")
TORCH_PIP = "python3 -m pip install torch"
ORT_PIP = "python3 -m pip install onnxruntime-gpu"


# glibc's malloc returns freed memory to the OS (trims the heap, unmaps large blocks) while its adaptive thresholds
# are low, so a network pass between two reads of the pipeline page-faulted all its activations afresh: measured, the
# same passes ran 5-10 % slower inside segment() than back to back.  These are the values the adaptive thresholds grow
# to by themselves in a long-running process (DEFAULT_MMAP_THRESHOLD_MAX on 64-bit, and twice that for trimming).
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD, TRIM_THRESHOLD = 32 * 1024 * 1024, 64 * 1024 * 1024


@functools.cache
def keep_freed_memory():
    """Set glibc's malloc thresholds once per process (see above); True where it did, False elsewhere (other C
    libraries or systems, where nothing is changed)."""
    if not (sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and \
            bool(libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    except (OSError, AttributeError):
        return False


def _import_torch():
    try:
        import torch
    except ImportError:
        raise EDCDependencyError(f"PyTorch is needed to run .pt weights but is not installed. Install it with "
                                 f"'{TORCH_PIP}' (in the Python QGIS uses), or use .onnx weights with ONNX "
                                 "Runtime.") from None
    return torch


def _import_ort():
    try:
        import onnxruntime
    except ImportError:
        raise EDCDependencyError(f"ONNX Runtime is needed to run .onnx weights but is not installed. Install it with "
                                 f"'{ORT_PIP}' (or 'python3 -m pip install onnxruntime' without GPU support), or use "
                                 ".pt weights with PyTorch.") from None
    return onnxruntime


def is_out_of_memory(exc):
    text = f"{type(exc).__name__} {exc}".lower()
    return any(k in text for k in ("out of memory", "outofmemory", "cudaerrormemoryallocation",
                                   "failed to allocate memory", "cuda_error_out_of_memory"))


def _no_cuda(runtime, why):
    return EDCInputError(f"Device 'CUDA' was requested but {runtime} cannot use an NVIDIA GPU on this machine ({why}); "
                         "choose the device 'Automatic' or 'CPU'.")


class Predictor:
    """Common batching and out-of-memory handling; subclasses implement ``_run`` and ``_to_cpu``."""

    metadata = None
    device = ""
    on_gpu = False
    max_batch = 0  # set after a GPU out-of-memory error

    def __init__(self, log=print):
        self.log = log or (lambda message: None)
        keep_freed_memory()

    def predict(self, optical, sar):
        optical = np.ascontiguousarray(optical, np.float32)
        sar = np.ascontiguousarray(sar, np.float32)
        n, step = len(optical), self.max_batch
        if step and n > step:  # a previous batch ran out of GPU memory: split
            parts = [self.predict(optical[i:i + step], sar[i:i + step]) for i in range(0, n, step)]
            return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        try:
            return self._run(optical, sar)
        except Exception as exc:  # noqa: BLE001 - runtimes raise assorted types for out-of-memory
            if not (self.on_gpu and is_out_of_memory(exc)):
                raise
            self._release()
        if n > 1:
            self.max_batch = n // 2
            self.log(f"GPU out of memory with a batch of {n} tiles; using batches of {self.max_batch}.")
            return self.predict(optical, sar)
        self.log("WARNING: the GPU ran out of memory even with one tile per batch; continuing on the CPU (slower). "
                 "Use a smaller tile size to stay on the GPU.")
        self._to_cpu()
        return self._run(optical, sar)

    def _release(self):
        pass


class TorchPredictor(Predictor):
    def __init__(self, path, device="auto", log=print):
        super().__init__(log)
        self.torch = torch = _import_torch()
        from .weights import load_weights
        cuda = torch.cuda.is_available()
        if device == "cuda" and not cuda:
            raise _no_cuda("PyTorch", "torch.cuda.is_available() is False")
        self.on_gpu = device in ("cuda", "auto") and cuda
        self.model, self.metadata = load_weights(path, device="cuda" if self.on_gpu else "cpu")
        self.device = (f"PyTorch on CUDA ({torch.cuda.get_device_name(0)})" if self.on_gpu else "PyTorch on CPU")

    def _run(self, optical, sar):
        torch = self.torch
        dev = "cuda" if self.on_gpu else "cpu"
        with torch.inference_mode():
            out = self.model(torch.from_numpy(optical).to(dev), torch.from_numpy(sar).to(dev))
            return {"probabilities": out["logits"].float().softmax(1).cpu().numpy(),
                    "cloudfree": out["cloudfree"].float().cpu().numpy(),
                    "reliability": out["reliability"].float().cpu().numpy()}

    def _release(self):
        self.torch.cuda.empty_cache()

    def _to_cpu(self):
        self.model = self.model.cpu()
        self.on_gpu = False
        self._release()
        self.device = "PyTorch on CPU (fell back from CUDA: out of GPU memory)"


class OnnxPredictor(Predictor):
    def __init__(self, path, device="auto", log=print):
        super().__init__(log)
        ort = self.ort = _import_ort()
        self.path = str(path)
        self.metadata = read_metadata(path)
        available = ort.get_available_providers()
        want_cuda = device in ("cuda", "auto") and "CUDAExecutionProvider" in available
        if device == "cuda" and not want_cuda:
            raise _no_cuda("ONNX Runtime", "its CUDAExecutionProvider is not available; onnxruntime-gpu is needed")
        self.session = None
        if want_cuda:
            try:
                self._open(["CUDAExecutionProvider", "CPUExecutionProvider"])
            except Exception as exc:  # noqa: BLE001 - missing CUDA libraries surface here
                if device == "cuda":
                    raise _no_cuda("ONNX Runtime", str(exc).splitlines()[0][:200]) from None
                self.log(f"ONNX Runtime could not start on the GPU ({str(exc).splitlines()[0][:200]}); using the CPU.")
        if self.session is None or self.session.get_providers()[0] != "CUDAExecutionProvider":
            if device == "cuda":
                raise _no_cuda("ONNX Runtime", "the CUDA provider did not load")
            self._open(["CPUExecutionProvider"])
        self.on_gpu = self.session.get_providers()[0] == "CUDAExecutionProvider"
        self.device = f"ONNX Runtime {self.session.get_providers()[0]}"

    def _open(self, providers):
        try:
            self.session = self.ort.InferenceSession(self.path, providers=providers)
        except Exception as exc:  # noqa: BLE001
            if "CPUExecutionProvider" == providers[0]:
                raise EDCWeightsError(f"Weights file '{Path(self.path).name}' cannot be loaded by ONNX Runtime "
                                      f"({str(exc).splitlines()[0][:200]}); export it again.") from None
            raise
        names = {i.name for i in self.session.get_inputs()}
        if names != {"optical", "sar"}:
            raise EDCWeightsError(f"Weights file '{Path(self.path).name}' has inputs {sorted(names)}, not 'optical' "
                                  "and 'sar'; it was not exported by EDC.")

    def _run(self, optical, sar):
        probs, cloudfree, reliability = self.session.run(["probabilities", "cloudfree", "reliability"],
                                                         {"optical": optical, "sar": sar})
        return {"probabilities": probs, "cloudfree": cloudfree, "reliability": reliability}

    def _to_cpu(self):
        self._open(["CPUExecutionProvider"])
        self.on_gpu = False
        self.device = "ONNX Runtime CPUExecutionProvider (fell back from CUDA: out of GPU memory)"


def load_predictor(weights_path, device="auto", batch_size=4, log=print):
    """A Predictor for a ``.pt`` (PyTorch) or ``.onnx`` (ONNX Runtime) weights file on ``device``."""
    if device not in DEVICES:
        raise EDCInputError(f"Device '{device}' is unknown; choose one of {', '.join(DEVICES)}.")
    if not Path(str(weights_path)).is_file():
        raise EDCWeightsError(f"Weights file '{weights_path}' does not exist or is not a file; choose an existing "
                              ".pt or .onnx EDC weights file.")
    onnx = Path(str(weights_path)).suffix.lower() == ".onnx"
    predictor = (OnnxPredictor if onnx else TorchPredictor)(weights_path, device, log)
    predictor.batch_size = int(batch_size)
    (log or print)(f"Inference device: {predictor.device}")
    return predictor
