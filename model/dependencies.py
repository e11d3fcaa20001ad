"""The optional heavy packages (PyTorch, ONNX Runtime, Dask distributed), imported on first use with one message each
that says what needs them and how to install them: in the QGIS desktop with the plugin's menu action, elsewhere
(qgis_process, scripts) with pip."""

from .errors import EDCDependencyError
from .vocabulary import INSTALL_ACTION_PATH

TORCH_PIP = "python3 -m pip install torch"
ORT_PIP = "python3 -m pip install onnxruntime"


def import_torch():
    """The ``torch`` module; EDCDependencyError when PyTorch is not installed."""
    try:
        import torch
    except ImportError:
        raise EDCDependencyError(f"PyTorch is needed for .pt weights and for training but is not installed. In QGIS, "
                                 f"install it with {INSTALL_ACTION_PATH} (tick 'PyTorch'); elsewhere with "
                                 f"'{TORCH_PIP}' in the Python QGIS uses. Or map with .onnx weights, which need "
                                 "only ONNX Runtime.") from None
    return torch


def import_onnxruntime():
    """The ``onnxruntime`` module; EDCDependencyError when ONNX Runtime is not installed."""
    try:
        import onnxruntime
    except ImportError:
        raise EDCDependencyError(f"ONNX Runtime is needed to run .onnx weights but is not installed. In QGIS, install "
                                 f"it with {INSTALL_ACTION_PATH}; elsewhere with '{ORT_PIP}' (or onnxruntime-gpu for "
                                 "NVIDIA GPUs) in the Python QGIS uses. Or use .pt weights with PyTorch.") from None
    return onnxruntime


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
