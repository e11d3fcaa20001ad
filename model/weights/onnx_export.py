"""Export of a trained network to ONNX (dynamic batch, height and width) with the EDC metadata embedded.

With ``half=True`` the weight tensors are stored as float16 (half the file) behind a Cast to float32 at the start
of the graph: ONNX Runtime folds the casts when it builds its session, so the network computes in float32 and needs
nothing but ONNX Runtime.  Weights that were float16 already (``--half-weights``, the bundled weights) stay exact,
except where the exporter folded them into new constants (a convolution with its batch normalisation): those are
rounded to float16, which moved the bundled model's probabilities by at most 3e-4.  Keeping them in float32 instead
made the file 25 MB, over the plugin repository's limit, and not folding them cost 0.3-0.5 s more per session.
"""

import json
import os

from ..dependencies import import_torch
from ..vocabulary import MODEL_OUTPUTS, ONNX_INPUTS
from .files import ONNX_KEY, atomic_target
from .metadata import validate_metadata

SMALL_TENSOR = 64  # float16 storage for tensors of at least this many values (biases and scalars stay float32)



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


def export_onnx(model, metadata, path, opset=17, half=False, int8=False):
    """Export ``model`` to ONNX (TorchScript-based exporter, dynamic batch/height/width) with the metadata embedded;
    ``half``: float16 weights (see the module's text); ``int8``: matrix products quantised (see :func:`quantize`)."""
    torch = import_torch()
    import onnx
    meta = validate_metadata(metadata)
    config = meta["config"]
    was_training = model.training
    model.eval()
    dummy = (torch.randn(1, config["in_optical"], 96, 128), torch.randn(1, config["in_sar"], 96, 128))
    axes = {name: {0: "batch", 2: "height", 3: "width"} for name in ONNX_INPUTS + MODEL_OUTPUTS}
    path, tmp = atomic_target(path)
    try:
        with torch.no_grad():
            torch.onnx.export(_onnx_wrapper(model), dummy, str(tmp), dynamo=False, input_names=list(ONNX_INPUTS),
                              output_names=list(MODEL_OUTPUTS), dynamic_axes=axes, opset_version=opset,
                              do_constant_folding=True)
        if int8:
            quantize(tmp)
        proto = onnx.load(str(tmp))
        if half:
            store_half(proto)
        entry = proto.metadata_props.add()
        entry.key, entry.value = ONNX_KEY, json.dumps(meta, sort_keys=True)
        onnx.save(proto, str(tmp))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
        model.train(was_training)
    return path


def quantize(path):
    """Quantise the matrix products of the ONNX file ``path`` in place with ONNX Runtime's dynamic int8 quantisation
    (int8 weights, activations quantised per pass).  For the CPU only: CUDA has no kernel for the dynamic
    quantisation, so a GPU would hand those nodes back to the CPU.  Convolutions stay float: quantised ones
    (ConvInteger) ran 3x slower on this CPU."""
    from onnxruntime.quantization import QuantType, quantize_dynamic
    quantized = path.with_name(path.name + ".int8")
    try:
        quantize_dynamic(str(path), str(quantized), weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul"],
                         reduce_range=True)  # 7-bit weights: no int16 saturation on AVX2-only CPUs (onnx_int8.py)
        os.replace(quantized, path)
    finally:
        quantized.unlink(missing_ok=True)


def store_half(proto):
    """Turn the float32 initializers of the ONNX ``proto`` (but the smallest) into float16 ones, each read through a
    Cast to float32 under its old name (so every node still sees float32)."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper
    casts = []
    for init in proto.graph.initializer:
        if init.data_type != TensorProto.FLOAT:
            continue
        name, value = init.name, numpy_helper.to_array(init)
        if value.size < SMALL_TENSOR:
            continue
        init.CopyFrom(numpy_helper.from_array(value.astype(np.float16), f"{name}.float16"))
        casts.append(helper.make_node("Cast", [f"{name}.float16"], [name], to=TensorProto.FLOAT,
                                      name=f"{name}.to_float32"))
    nodes = casts + list(proto.graph.node)
    del proto.graph.node[:]
    proto.graph.node.extend(nodes)


def main(argv=None):
    """``python -m model.weights.onnx_export WEIGHTS.pt OUT.onnx [--half]``: the ONNX file of a ``.pt`` file."""
    import argparse

    from .files import open_weights
    parser = argparse.ArgumentParser(description="Export EDC .pt weights to an ONNX file that needs only ONNX "
                                                 "Runtime to map.")
    parser.add_argument("weights", help="the .pt weights file")
    parser.add_argument("out", help="the .onnx file to write")
    parser.add_argument("--half", action="store_true",
                        help="store the weights as float16 (half the file; computed in float32)")
    parser.add_argument("--int8", action="store_true",
                        help="store the matrix products quantised to int8 (a smaller file, CPU only; CPU sessions "
                             "of float weights quantise them at load anyway)")
    args = parser.parse_args(argv)
    weights = open_weights(args.weights)
    print(export_onnx(weights.build_model(), weights.metadata, args.out, half=args.half, int8=args.int8))


if __name__ == "__main__":
    main()
