"""Weights files: ``.pt`` (state dict + JSON metadata) and ``.onnx`` (metadata in metadata_props "edc_metadata").

``.pt`` files are read with ``torch.load(weights_only=True)``: nothing in them is ever unpickled as code.
``read_metadata`` on ``.onnx`` needs only the ``onnx`` package (or onnxruntime), not torch.
"""

import json
import os
from pathlib import Path

from .errors import EDCDependencyError, EDCWeightsError
from .metadata import metadata_from_json, metadata_to_json, validate_metadata

ONNX_KEY = "edc_metadata"
INPUTS = ("optical", "sar")
OUTPUTS = ("probabilities", "cloudfree", "reliability")


def _torch():
    try:
        import torch
    except ImportError:
        raise EDCDependencyError("PyTorch is not installed; install it (pip install torch) or use an .onnx weights "
                                 "file with ONNX Runtime.") from None
    return torch


def _existing(path):
    path = Path(path)
    if not path.is_file():
        raise EDCWeightsError(f"Weights file '{path}' does not exist or is not a file; choose an existing .pt or "
                              ".onnx EDC weights file.")
    return path


def _damaged(path, what):
    return EDCWeightsError(f"Weights file '{Path(path).name}' {what}: it is truncated, damaged or not an EDC weights "
                           "file. Download or export it again.")


def _atomic_target(path):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path, path.with_name(path.name + ".part")


def save_weights(model, metadata, path):
    """Write ``model``'s state dict and the validated ``metadata`` to a ``.pt`` file (atomically)."""
    torch = _torch()
    from .network.config import full_config
    meta = validate_metadata(metadata)
    if getattr(model, "architecture", None) != meta["architecture"] or \
            getattr(model, "config", None) != full_config(meta["config"]):
        raise EDCWeightsError("The metadata's architecture/config do not describe the model being saved; pass the "
                              "model's own config (model.config) in the metadata.")
    text = metadata_to_json(meta)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    path, tmp = _atomic_target(path)
    try:
        torch.save({"metadata_json": text, "state_dict": state}, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _load_pt(path):
    torch = _torch()
    path = _existing(path)
    try:
        # mmap: tensors are mapped, not read, so read_metadata costs little even before load_weights reads them
        blob = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as exc:  # zip/pickle errors of every kind mean the same thing to the user
        raise _damaged(path, f"cannot be read ({type(exc).__name__})") from None
    if not isinstance(blob, dict) or not isinstance(blob.get("metadata_json"), str) or \
            not isinstance(blob.get("state_dict"), dict):
        raise _damaged(path, "has no EDC metadata block and state dict")
    meta = _parse_metadata(path, blob["metadata_json"])
    state = blob["state_dict"]
    if not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise _damaged(path, "holds a state dict with non-tensor entries")
    return meta, state


def _read_onnx_metadata(path):
    path = _existing(path)
    try:
        import onnx
    except ImportError:
        onnx = None
    if onnx is not None:
        try:
            proto = onnx.load(str(path), load_external_data=False)
        except Exception as exc:
            raise _damaged(path, f"cannot be read as ONNX ({type(exc).__name__})") from None
        props = {p.key: p.value for p in proto.metadata_props}
        if _uses_external_data(proto.graph):
            raise _damaged(path, "points at tensor data in other files (ONNX external data)")
    else:  # ONNX Runtime itself refuses external data outside the model's folder
        try:
            import onnxruntime as ort
        except ImportError:
            raise EDCDependencyError("Reading .onnx weights needs the onnx or onnxruntime package; install "
                                     "onnxruntime (pip install onnxruntime).") from None
        try:
            session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise _damaged(path, f"cannot be read as ONNX ({type(exc).__name__})") from None
        props = session.get_modelmeta().custom_metadata_map
    if ONNX_KEY not in props:
        raise _damaged(path, f"has no '{ONNX_KEY}' metadata")
    return _parse_metadata(path, props[ONNX_KEY])


def _parse_metadata(path, text):
    """Validated metadata; its errors name the weights file."""
    try:
        return metadata_from_json(text)
    except EDCWeightsError as exc:
        raise EDCWeightsError(f"Weights file '{Path(path).name}': {exc}") from None


def _uses_external_data(graph):
    """True when a tensor of an ONNX ``graph`` or of its subgraphs keeps its data in another file (a path)."""
    from onnx import TensorProto
    tensors = list(graph.initializer)
    for node in graph.node:
        for attr in node.attribute:
            tensors += [attr.t, *attr.tensors]
            if any(_uses_external_data(g) for g in [attr.g, *attr.graphs]):
                return True
    return any(t.data_location == TensorProto.EXTERNAL for t in tensors)


def read_metadata(path):
    """The validated metadata of a ``.pt`` or ``.onnx`` weights file, without building a model."""
    if Path(path).suffix.lower() == ".onnx":
        return _read_onnx_metadata(path)
    return _load_pt(path)[0]


def load_weights(path, device="cpu"):
    """Build the network described by a ``.pt`` file, load its weights; return ``(model in eval mode, metadata)``."""
    if Path(path).suffix.lower() == ".onnx":
        raise EDCWeightsError(f"Weights file '{Path(path).name}' is ONNX; it runs with ONNX Runtime, not PyTorch. "
                              "Use the .pt file to load it in PyTorch.")
    meta, state = _load_pt(path)
    from .network import build_model
    try:
        model = build_model(meta["architecture"], meta["config"])
    except (ValueError, KeyError, TypeError, IndexError, AssertionError) as exc:
        raise EDCWeightsError(f"Weights file '{Path(path).name}': metadata field 'config' does not describe a "
                              f"buildable {meta['architecture']} network ({exc}). Re-export the weights.") from None
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong = [k for k in expected if k in state and state[k].shape != expected[k].shape]
    if missing or unexpected or wrong:
        detail = "; ".join(f"{label}: {', '.join(keys[:3])}{' ...' if len(keys) > 3 else ''}"
                           for label, keys in (("missing", missing), ("unexpected", unexpected),
                                               ("wrong shape", wrong)) if keys)
        raise EDCWeightsError(f"Weights file '{Path(path).name}' does not match its declared "
                              f"{meta['architecture']} configuration ({detail}). The file is damaged or was edited; "
                              "export it again.")
    model.load_state_dict(state, strict=True)
    return model.to(device).eval(), meta


def _onnx_wrapper(model):
    torch = _torch()

    class Exported(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = model

        def forward(self, optical, sar):
            out = self.net(optical, sar)
            return out["logits"].softmax(1), out["cloudfree"], out["reliability"]

    return Exported()


def export_onnx(model, metadata, path, opset=17):
    """Export ``model`` to ONNX (TorchScript-based exporter, dynamic batch/height/width) with the metadata embedded."""
    torch = _torch()
    import onnx
    meta = validate_metadata(metadata)
    config = meta["config"]
    was_training = model.training
    model.eval()
    dummy = (torch.randn(1, config["in_optical"], 96, 128), torch.randn(1, config["in_sar"], 96, 128))
    axes = {name: {0: "batch", 2: "height", 3: "width"} for name in INPUTS + OUTPUTS}
    path, tmp = _atomic_target(path)
    try:
        with torch.no_grad():
            torch.onnx.export(_onnx_wrapper(model), dummy, str(tmp), dynamo=False, input_names=list(INPUTS),
                              output_names=list(OUTPUTS), dynamic_axes=axes, opset_version=opset,
                              do_constant_folding=True)
        proto = onnx.load(str(tmp))
        entry = proto.metadata_props.add()
        entry.key, entry.value = ONNX_KEY, json.dumps(meta, sort_keys=True)
        onnx.save(proto, str(tmp))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
        model.train(was_training)
    return path
