"""The EDC network, its baselines and presets.  Importing this package imports torch.

``build_model(architecture, config)`` builds any architecture named in the weights metadata;
``preset_config(name, in_optical, in_sar, num_classes)`` gives a config for the tiny / small / base presets.
"""

from ..vocabulary import ARCHITECTURES
from .config import PRESETS, preset_config
from .layers import AttentionCounter


def build_model(architecture, config):
    """Build an untrained network (torch.nn.Module) from its architecture name and config dict."""
    if architecture == "edc":
        from .edc import EDC
        return EDC(config)
    if architecture == "dense_tristream":
        from .baselines.dense_tristream import DenseTriStream
        return DenseTriStream(config)
    if architecture in ("optical_only", "sar_only", "early_concat"):
        from .baselines.single_stream import SingleStream
        return SingleStream(config, architecture)
    raise ValueError(f"unknown architecture {architecture!r}; choose one of {', '.join(ARCHITECTURES)}")


__all__ = ["ARCHITECTURES", "PRESETS", "AttentionCounter", "build_model", "preset_config"]
