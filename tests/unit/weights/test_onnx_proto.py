"""The few lines of protobuf that open ONNX weights without the onnx package: they must read what onnx reads, cut
outputs exactly as onnx would, and refuse what is not an ONNX model."""

import numpy as np
import pytest

from model.errors import EDCWeightsError
from model.weights import open_weights
from model.weights.onnx_proto import (GRAPH_INPUT, io_names, keep_outputs, metadata_props, read_onnx_header,
                                      uses_external_data)

onnx = pytest.importorskip("onnx")


@pytest.fixture(scope="module")
def model_bytes(tiny_onnx):
    return tiny_onnx.read_bytes()


def test_header_reads_what_onnx_reads(model_bytes):
    proto = onnx.load_model_from_string(model_bytes)
    assert metadata_props(model_bytes) == {p.key: p.value for p in proto.metadata_props}
    assert io_names(model_bytes) == [o.name for o in proto.graph.output] == ["probabilities", "cloudfree",
                                                                            "reliability"]
    assert io_names(model_bytes, GRAPH_INPUT) == [i.name for i in proto.graph.input] == ["optical", "sar"]
    assert not uses_external_data(model_bytes)


@pytest.mark.parametrize("keep", [["probabilities"], ["probabilities", "reliability"]])
def test_keep_outputs_is_what_onnx_writes(model_bytes, keep):
    proto = onnx.load_model_from_string(model_bytes)
    kept = [o for o in proto.graph.output if o.name in keep]
    del proto.graph.output[:]
    proto.graph.output.extend(kept)
    assert keep_outputs(model_bytes, keep) == proto.SerializeToString()
    assert keep_outputs(model_bytes, ["probabilities", "cloudfree", "reliability"]) == model_bytes


def test_onnx_runtime_runs_only_the_kept_outputs(model_bytes):
    ort = pytest.importorskip("onnxruntime")
    session = ort.InferenceSession(keep_outputs(model_bytes, ["probabilities"]), providers=["CPUExecutionProvider"])
    assert [o.name for o in session.get_outputs()] == ["probabilities"]
    out = session.run(None, {"optical": np.zeros((1, 3, 32, 32), np.float32), "sar": np.zeros((1, 1, 32, 32),
                                                                                          np.float32)})
    assert out[0].shape == (1, 2, 32, 32)


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_not_onnx_is_a_clear_error(model_bytes, damage):
    data = {"truncated": model_bytes[:len(model_bytes) // 2], "garbage": b"\xff" * 64, "empty": b""}[damage]
    with pytest.raises(EDCWeightsError, match="'w.onnx' cannot be read as ONNX.*export it again"):
        read_onnx_header(data, "w.onnx")


def test_open_weights_needs_no_onnx_package(tiny_onnx, monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, "onnx", None)  # "import onnx" fails from here on
    weights = open_weights(tiny_onnx)
    assert weights.is_onnx and weights.onnx_outputs == ("probabilities", "cloudfree", "reliability")
    assert weights.metadata["architecture"] == "edc"


def test_wrong_inputs_are_refused(model_bytes, tmp_path):
    proto = onnx.load_model_from_string(model_bytes)
    proto.graph.input[1].name = "radar"
    for node in proto.graph.node:
        node.input[:] = ["radar" if name == "sar" else name for name in node.input]
    path = tmp_path / "renamed.onnx"
    path.write_bytes(proto.SerializeToString())
    with pytest.raises(EDCWeightsError, match=r"'renamed.onnx' has inputs \['optical', 'radar'\].*not exported"):
        open_weights(path)
