"""Weights files: ``.pt`` (state dict + JSON metadata) and ``.onnx`` (metadata in metadata_props "edc_metadata").

``open_weights(path)`` reads a file once and validates it: a :class:`WeightsFile` with the metadata and, for ``.pt``,
the state dict (memory-mapped tensors), for ``.onnx`` the model bytes that ONNX Runtime builds its session from.
``.pt`` files are read with ``torch.load(weights_only=True)``: nothing in them is ever unpickled as code.
``.onnx`` files need only onnxruntime, not torch (nor the onnx package).
"""

import os
from dataclasses import dataclass
from pathlib import Path

from ..dependencies import import_torch
from ..errors import EDCWeightsError
from ..vocabulary import MODEL_OUTPUTS, ONNX_INPUTS, WEIGHTS_SUFFIXES
from .metadata import metadata_from_json, metadata_to_json, validate_metadata
from .onnx_proto import read_onnx_header

ONNX_KEY = "edc_metadata"


@dataclass
class WeightsFile:
    """One opened, validated weights file.  ``state`` (``.pt``) or ``onnx_bytes`` (``.onnx``) holds its content."""
    path: Path
    metadata: dict
    state: dict = None
    onnx_bytes: bytes = None
    onnx_outputs: tuple = ()

    @property
    def is_onnx(self):
        return self.onnx_bytes is not None

    @property
    def name(self):
        return self.path.name

    def build_model(self, device="cpu"):
        """The network of a ``.pt`` file with its weights loaded, in eval mode on ``device``."""
        if self.is_onnx:
            raise EDCWeightsError(f"Weights file '{self.name}' is ONNX; it runs with ONNX Runtime, not PyTorch. Use "
                                  "the .pt file to load it in PyTorch.")
        from ..network import build_model
        meta = self.metadata
        try:
            model = build_model(meta["architecture"], meta["config"])
        except (ValueError, KeyError, TypeError, IndexError, AssertionError) as exc:
            raise EDCWeightsError(f"Weights file '{self.name}': metadata field 'config' does not describe a "
                                  f"buildable {meta['architecture']} network ({exc}). Re-export the weights.") from None
        self._check_state(model.state_dict())
        model.load_state_dict(self.state, strict=True)
        return model.to(device).eval()

    def _check_state(self, expected):
        state = self.state
        missing = [k for k in expected if k not in state]
        unexpected = [k for k in state if k not in expected]
        wrong = [k for k in expected if k in state and state[k].shape != expected[k].shape]
        if missing or unexpected or wrong:
            detail = "; ".join(f"{label}: {', '.join(keys[:3])}{' ...' if len(keys) > 3 else ''}"
                               for label, keys in (("missing", missing), ("unexpected", unexpected),
                                                   ("wrong shape", wrong)) if keys)
            raise EDCWeightsError(f"Weights file '{self.name}' does not match its declared "
                                  f"{self.metadata['architecture']} configuration ({detail}). The file is damaged or "
                                  "was edited; export it again.")


def open_weights(path):
    """Read and validate a ``.pt`` / ``.pth`` or ``.onnx`` weights file (once; the suffix, in any case, says which);
    EDCWeightsError naming the file otherwise."""
    path = Path(str(path))
    if not path.is_file():
        raise EDCWeightsError(f"Weights file '{path}' does not exist or is not a file; choose an existing .pt or "
                              ".onnx EDC weights file.")
    if path.suffix.lower() not in WEIGHTS_SUFFIXES:
        raise EDCWeightsError(f"Weights file '{path.name}' does not end in {', '.join(WEIGHTS_SUFFIXES)}: EDC weights "
                              "are .pt or .pth (PyTorch) or .onnx (ONNX) files; choose such a file (rename it if it is "
                              "one).")
    if path.suffix.lower() == ".onnx":
        return _open_onnx(path)
    return _open_pt(path)


def _damaged(path, what):
    return EDCWeightsError(f"Weights file '{Path(path).name}' {what}: it is truncated, damaged or not an EDC weights "
                           "file. Download or export it again.")


def _parse_metadata(path, text):
    """Validated metadata; its errors name the weights file."""
    try:
        return metadata_from_json(text)
    except EDCWeightsError as exc:
        raise EDCWeightsError(f"Weights file '{Path(path).name}': {exc}") from None


def _open_pt(path):
    torch = import_torch()
    try:
        # mmap: tensors are mapped, not read, until the model is built from them
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
    return WeightsFile(path, meta, state=state)


def _open_onnx(path):
    """Read with the few lines of protobuf in :mod:`.onnx_proto`: neither the onnx package nor an ONNX Runtime
    session (seconds for EDC) is needed to read the metadata."""
    data = path.read_bytes()
    props, inputs, outputs = read_onnx_header(data, path.name)
    if ONNX_KEY not in props:
        raise _damaged(path, f"has no '{ONNX_KEY}' metadata")
    if set(inputs) != set(ONNX_INPUTS) or "probabilities" not in outputs or not set(outputs) <= set(MODEL_OUTPUTS):
        raise EDCWeightsError(f"Weights file '{path.name}' has inputs {inputs} and outputs {outputs}, not "
                              f"{list(ONNX_INPUTS)} and {list(MODEL_OUTPUTS)}; it was not exported by EDC.")
    return WeightsFile(path, _parse_metadata(path, props[ONNX_KEY]), onnx_bytes=data, onnx_outputs=tuple(outputs))


def atomic_target(path):
    """(``path``, its temporary ``.part`` name) with the folder created: write the second, rename it to the first."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path, path.with_name(path.name + ".part")


def save_weights(model, metadata, path):
    """Write ``model``'s state dict and the validated ``metadata`` to a ``.pt`` file (atomically)."""
    torch = import_torch()
    from ..network.config import full_config
    meta = validate_metadata(metadata)
    if getattr(model, "architecture", None) != meta["architecture"] or \
            getattr(model, "config", None) != full_config(meta["config"]):
        raise EDCWeightsError("The metadata's architecture/config do not describe the model being saved; pass the "
                              "model's own config (model.config) in the metadata.")
    text = metadata_to_json(meta)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    path, tmp = atomic_target(path)
    try:
        torch.save({"metadata_json": text, "state_dict": state}, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
