"""Weights files and the metadata they carry.  Importing this package imports neither torch nor onnx.

- ``metadata``: the JSON schema every weights file carries, validated field by field (``make_metadata``).
- ``files``: ``open_weights(path) -> WeightsFile`` (read and validated once), ``save_weights``.
- ``onnx_export``: ``export_onnx`` (needs torch and onnx).
- ``onnx_proto``: ONNX metadata, inputs and outputs read, outputs cut, without the onnx package.
- ``onnx_int8``: ``quantize_matmuls``, the int8 graph CPU sessions run (without the onnx package).
"""

from .files import WeightsFile, open_weights, save_weights
from .metadata import class_colors_rgb, make_metadata, validate_metadata

__all__ = ["WeightsFile", "class_colors_rgb", "make_metadata", "open_weights", "save_weights", "validate_metadata"]
