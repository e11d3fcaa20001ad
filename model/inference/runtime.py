"""Inference runtimes: PyTorch for ``.pt`` weights, ONNX Runtime for ``.onnx`` weights.

``load_predictor(weights, device, log, outputs)`` builds a Predictor from an opened
:class:`model.weights.WeightsFile`; its ``predict(optical, sar)`` takes float32 batches (B, C, h, w) of normalised
inputs and returns numpy ``probabilities`` (softmax) and, where asked for (ONNX) or always (PyTorch), ``cloudfree``
and ``reliability``.  A GPU out-of-memory error retries the batch in
halves, then moves to the CPU with a warning.
"""

import ctypes
import importlib.util
import sys

import numpy as np

from ..dependencies import import_onnxruntime, import_torch
from ..errors import EDCInputError, EDCWeightsError, reported_as_input_error
from ..vocabulary import CPU_BATCH, CPU_INT8, GPU_BATCH, MODEL_OUTPUTS, ONNX_CPU_BATCH
from ..weights.onnx_int8 import VARIANT, quantize_matmuls
from ..weights.onnx_proto import keep_outputs
from .session_cache import cached_session


def is_out_of_memory(exc):
    text = f"{type(exc).__name__} {exc}".lower()
    return any(k in text for k in ("out of memory", "outofmemory", "cudaerrormemoryallocation",
                                   "failed to allocate memory", "cuda_error_out_of_memory"))


def _no_cuda(runtime, why):
    return EDCInputError(f"Device 'CUDA' was requested but {runtime} cannot use an NVIDIA GPU on this machine ({why}); "
                         "choose the device 'Automatic' or 'CPU'.")


class Predictor:
    """Common batching and out-of-memory handling; subclasses implement ``_run`` and ``_to_cpu``."""

    device = ""
    on_gpu = False
    max_batch = 0  # set after a GPU out-of-memory error

    def __init__(self, log=print):
        self.log = log or (lambda message: None)

    @property
    def default_batch(self):
        """Tiles per batch when the user leaves it to us (BATCH_SIZE 0): more on a GPU."""
        return GPU_BATCH if self.on_gpu else CPU_BATCH

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

    def stacked(self, batch, cloudfree=False, reliability=False):
        """The outputs a run writes, along the channels: probabilities, then the cloud-free bands and the
        reliability where asked for; EDCInputError saying what to try when the network fails."""
        with reported_as_input_error(f"The model ({self.device}) failed on a batch of tiles",
                                     "try a smaller tile size or batch size, or the CPU device",
                                     (RuntimeError, ValueError)):
            out = self.predict(*batch)
        parts = [out["probabilities"]] + [out[k] for k, wanted in (("cloudfree", cloudfree),
                                                                   ("reliability", reliability)) if wanted]
        return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)

    def _release(self):
        pass


class TorchPredictor(Predictor):
    def __init__(self, weights, device="auto", log=print):
        super().__init__(log)
        self.torch = torch = import_torch()
        cuda = torch.cuda.is_available()
        if device == "cuda" and not cuda:
            raise _no_cuda("PyTorch", "torch.cuda.is_available() is False")
        self.on_gpu = device in ("cuda", "auto") and cuda
        self.model = weights.build_model(device="cuda" if self.on_gpu else "cpu")
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
    """ONNX Runtime on the weights' graph cut down to the outputs a run writes.  On the CPU the session is built for
    the tiles' fixed shape (one tile per pass): ONNX Runtime then folds the graph's shape arithmetic away, which
    builds the session in about a third of the time and runs it with less than half of the nodes; with ``int8`` its
    matrix products are int8 (:mod:`model.weights.onnx_int8`).  On a GPU one session takes any batch and tile size,
    in float32."""

    def __init__(self, weights, device="auto", log=print, outputs=MODEL_OUTPUTS, threads=None, int8=CPU_INT8):
        super().__init__(log)
        ort = self.ort = import_onnxruntime()
        self.threads = threads  # per pass on the CPU (None: every core)
        self.int8 = int8
        self.name, self.weights_bytes = weights.name, weights.onnx_bytes
        self.outputs = [o for o in weights.onnx_outputs if o in outputs]
        self._graph = weights.onnx_bytes if len(self.outputs) == len(weights.onnx_outputs) else None
        self._quantized = None  # the int8 graph, made from _graph when a CPU session is first built
        self.sessions = {}  # tile shape (batch, height, width) -> CPU session
        self.session = None  # the GPU session
        problem = cuda_problem(ort) if device in ("cuda", "auto") else None
        if device == "cuda" and problem:
            raise _no_cuda("ONNX Runtime", problem)
        if device in ("cuda", "auto") and not problem:
            self._open_gpu(device)
        if self.session is None and problem:
            self.log(f"ONNX Runtime runs on the CPU: {problem}.")
        self.on_gpu = self.session is not None
        self.device = "ONNX Runtime CUDAExecutionProvider" if self.on_gpu else self._cpu_device()

    def _cpu_device(self):
        return f"ONNX Runtime CPUExecutionProvider ({'int8' if self.int8 else 'float32'} matrix products)"

    def _open_gpu(self, device):
        try:
            session = self._session(["CUDAExecutionProvider", "CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 - missing CUDA libraries surface here
            if device == "cuda":
                raise _no_cuda("ONNX Runtime", str(exc).splitlines()[0][:200]) from None
            self.log(f"ONNX Runtime could not start on the GPU ({str(exc).splitlines()[0][:200]}); using the CPU.")
            return
        if session.get_providers()[0] == "CUDAExecutionProvider":
            self.session = session
        elif device == "cuda":
            raise _no_cuda("ONNX Runtime", "the CUDA provider did not load")

    def graph(self):
        """The weights' graph cut to the outputs asked for (made once, when a session is built from it)."""
        if self._graph is None:
            self._graph = keep_outputs(self.weights_bytes, self.outputs)
        return self._graph

    def _session(self, providers, shape=None):
        """A GPU session (any shape), or with ``shape`` a CPU session for that tile shape (from the cache)."""
        try:
            if shape is not None and self.int8:
                return self._int8_session(shape)
            if shape is not None:
                return cached_session(self.ort, self.weights_bytes, self.outputs, self.graph, shape, self.threads)
            return self.ort.InferenceSession(self.graph(), providers=providers)
        except Exception as exc:  # noqa: BLE001
            if providers[0] != "CPUExecutionProvider":
                raise
            raise EDCWeightsError(f"Weights file '{self.name}' cannot be loaded by ONNX Runtime "
                                  f"({str(exc).splitlines()[0][:200]}); export it again.") from None

    def _int8_graph(self):
        """The graph cut to the outputs asked for, its matrix products int8 (made once, for every tile shape)."""
        if self._quantized is None:
            self._quantized = quantize_matmuls(self.graph())
        return self._quantized

    def _int8_session(self, shape):
        """The int8 CPU session for ``shape``; where it cannot be built (weights of an unusual form, an ONNX Runtime
        without the int8 kernel), the float32 one, with a log line saying so."""
        try:
            return cached_session(self.ort, self.weights_bytes, self.outputs, self._int8_graph, shape, self.threads,
                                  VARIANT)
        except Exception as exc:  # noqa: BLE001 - any failure of the int8 graph: float32 still maps
            self.int8 = False
            self.device = self._cpu_device()
            self.log(f"WARNING: int8 matrix products could not be used with '{self.name}' "
                     f"({str(exc).splitlines()[0][:200]}); computing in float32 (slower, same map).")
        return cached_session(self.ort, self.weights_bytes, self.outputs, self.graph, shape, self.threads)

    def _run(self, optical, sar):
        if self.on_gpu:
            return self._outputs(self.session.run(self.outputs, {"optical": optical, "sar": sar}))
        shape = (ONNX_CPU_BATCH,) + optical.shape[2:]
        if shape not in self.sessions:
            self.sessions[shape] = self._session(["CPUExecutionProvider"], shape)
        session, step = self.sessions[shape], ONNX_CPU_BATCH
        parts = [session.run(self.outputs, {"optical": optical[i:i + step], "sar": sar[i:i + step]})
                 for i in range(0, len(optical), step)]
        return self._outputs([np.concatenate(p) for p in zip(*parts)])

    def _outputs(self, arrays):
        return dict(zip(self.outputs, arrays))

    def _to_cpu(self):
        self.session, self.on_gpu = None, False
        self.device = f"{self._cpu_device()}, fell back from CUDA: out of GPU memory"


def cuda_problem(ort):
    """None where ONNX Runtime may run on an NVIDIA GPU here, else why not, found without asking ONNX Runtime to
    load its CUDA provider (which prints errors in red and costs a second session where no GPU is usable): the
    provider must be built in (onnxruntime-gpu) and the NVIDIA driver's library must load."""
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        return "its CUDAExecutionProvider is not available; onnxruntime-gpu is needed"
    if sys.platform == "darwin":
        return "there is no CUDA on macOS"
    try:
        ctypes.CDLL("nvcuda.dll" if sys.platform == "win32" else "libcuda.so.1")
    except OSError:
        return "no NVIDIA driver was found on this machine"
    return None


def load_predictor(weights, device="auto", log=print, outputs=MODEL_OUTPUTS, threads=None, int8=CPU_INT8):
    """A Predictor for an opened ``.pt`` (PyTorch) or ``.onnx`` (ONNX Runtime) weights file on ``device``; it computes
    the ``outputs`` (of MODEL_OUTPUTS) asked for, or more.  ``threads``: ONNX Runtime's threads per pass on the CPU
    (None: every core; PyTorch's are set with ``torch.set_num_threads``).  ``int8``: ONNX Runtime on the CPU
    multiplies int8 matrices (faster; False: float32 throughout, as PyTorch and GPUs always do)."""
    predictor = (OnnxPredictor(weights, device, log, outputs, threads, int8) if weights.is_onnx
                 else TorchPredictor(weights, device, log))
    (log or print)(f"Inference device: {predictor.device}")
    if not weights.is_onnx and not predictor.on_gpu and importlib.util.find_spec("onnxruntime") is not None:
        (log or print)(f"These are PyTorch weights: exported to ONNX ('python -m model.weights.onnx_export "
                       f"{weights.name} {weights.path.stem}.onnx') they map about 1.4x faster on the CPU "
                       "with ONNX Runtime, which is installed here.")
    return predictor
