"""The optional heavy packages (PyTorch, ONNX Runtime, onnx, Dask distributed), imported on first use with one
message each that says what needs them and how to install them."""

from .errors import EDCDependencyError

TORCH_PIP = "python3 -m pip install torch"
ORT_PIP = "python3 -m pip install onnxruntime"


def import_torch():
    """The ``torch`` module; EDCDependencyError when PyTorch is not installed."""
    try:
        import torch
    except ImportError:
        raise EDCDependencyError(f"PyTorch is needed for .pt weights and for training but is not installed. Install "
                                 f"it with '{TORCH_PIP}' (in the Python QGIS uses), or map with .onnx weights, which "
                                 "need only ONNX Runtime.") from None
    return torch


def import_onnxruntime():
    """The ``onnxruntime`` module; EDCDependencyError when ONNX Runtime is not installed."""
    try:
        import onnxruntime
    except ImportError:
        raise EDCDependencyError(f"ONNX Runtime is needed to run .onnx weights but is not installed. Install it with "
                                 f"'{ORT_PIP}' (or onnxruntime-gpu for NVIDIA GPUs) in the Python QGIS uses, or use "
                                 ".pt weights with PyTorch.") from None
    return onnxruntime


def import_onnx():
    """The ``onnx`` package, or None when it is not installed (ONNX Runtime alone can read weights too)."""
    try:
        import onnx
    except ImportError:
        return None
    return onnx


DASK_PIP = 'python3 -m pip install "dask[distributed]"'


def import_distributed():
    """The ``distributed`` module (Dask's scheduler and workers); EDCDependencyError when it is not installed."""
    try:
        import distributed
    except ImportError:
        raise EDCDependencyError(f"Dask distributed is needed to map many scenes or large mosaics (segment_many) but "
                                 f"is not installed. Install it with '{DASK_PIP}' (in the Python QGIS uses), or map "
                                 "one scene at a time with edc:segment.") from None
    return distributed
