"""Tiny randomly initialised weights files shaped like the default ones (OMBRIA: optical B11, B8, B3; SAR VV;
background / flood water)."""

DEFAULT_CLASSES = [("background", "#d9d9d9"), ("flood water", "#1f78b4")]


def make_weights(path, n_optical=3, n_sar=1, classes=DEFAULT_CLASSES, tile_size=256, overlap=32, seed=0,
                 optical_names=None, sar_names=None, architecture="edc", preset="tiny"):
    """A randomly initialised network (fixed seed) saved as ``.pt`` weights; returns the path."""
    import torch

    from model.network import build_model, preset_config
    from model.weights import make_metadata, save_weights

    torch.manual_seed(seed)
    config = preset_config(preset, n_optical, n_sar, len(classes))
    if optical_names is None:
        optical_names = ["B11", "B8", "B3"] if n_optical == 3 else [f"O{i + 1}" for i in range(n_optical)]
    sar_names = sar_names or (["VV"] if n_sar == 1 else [f"S{i + 1}" for i in range(n_sar)])
    meta = make_metadata(architecture, config, classes, optical_names, sar_names, tile_size=tile_size,
                         overlap=overlap, trained=False, training={"note": "random test weights"})
    return save_weights(build_model(architecture, config), meta, path)


def onnx_copy(pt_path, onnx_path, half=False):
    """The network of a ``.pt`` weights file exported to ``onnx_path`` (``half``: float16 weights); returns that
    path."""
    from model.weights import open_weights
    from model.weights.onnx_export import export_onnx

    weights = open_weights(pt_path)
    return export_onnx(weights.build_model(), weights.metadata, onnx_path, half=half)
