"""Export of a trained network to ONNX (dynamic batch, height and width) with the EDC metadata embedded."""

import json
import os

from ..dependencies import import_torch
from .files import ONNX_KEY, atomic_target
from .metadata import validate_metadata

INPUTS = ("optical", "sar")
OUTPUTS = ("probabilities", "cloudfree", "reliability")


def _onnx_wrapper(model):
    torch = import_torch()

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
    torch = import_torch()
    import onnx
    meta = validate_metadata(metadata)
    config = meta["config"]
    was_training = model.training
    model.eval()
    dummy = (torch.randn(1, config["in_optical"], 96, 128), torch.randn(1, config["in_sar"], 96, 128))
    axes = {name: {0: "batch", 2: "height", 3: "width"} for name in INPUTS + OUTPUTS}
    path, tmp = atomic_target(path)
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
