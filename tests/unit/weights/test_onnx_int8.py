"""model/weights/onnx_int8.py: constant-weight MatMuls become int8 DynamicQuantizeMatMul nodes (per-column scales),
the rest of the graph and its metadata stay, float weights nothing else reads are dropped."""

import numpy as np
import pytest

from model.weights.onnx_int8 import quantize_matmuls

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402


def _model(nodes, initializers, outputs=("y",)):
    """A float model of input x (N x 8); outputs of rank 2 ("y", ...) or 0 ("z")."""
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 8])],
                              [helper.make_tensor_value_info(o, TensorProto.FLOAT, [] if o == "z" else [None, None])
                               for o in outputs],
                              [numpy_helper.from_array(v, k) for k, v in initializers.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    helper.set_model_props(model, {"edc": "metadata"})
    return model.SerializeToString()


def _run(data, x, outputs=("y",)):
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    return session.run(list(outputs), {"x": x})


def _weights(seed=0):
    """8 x 4 weights whose columns differ in scale by 10,000: one scale for the whole matrix would zero the small
    columns."""
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(8, 4)) * np.array([1.0, 1e-2, 1e-4, 3.0])).astype(np.float32)


def test_a_constant_weight_product_becomes_int8_with_per_column_scales():
    w = _weights()
    data = _model([helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")], {"w": w})
    quantized = quantize_matmuls(data)
    model = onnx.load_from_string(quantized)
    onnx.checker.check_model(model)
    assert [(n.op_type, n.domain, n.name) for n in model.graph.node] == [("DynamicQuantizeMatMul", "com.microsoft",
                                                                          "mm")]
    tensors = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    assert "w" not in tensors and tensors["w.int8"].dtype == np.int8 and tensors["w.int8_scale"].shape == (4,)
    assert {(o.domain, o.version) for o in model.opset_import} == {("", 17), ("com.microsoft", 1)}
    assert {p.key: p.value for p in model.metadata_props} == {"edc": "metadata"}
    x = np.random.default_rng(1).normal(size=(16, 8)).astype(np.float32)
    got, want = _run(quantized, x)[0], x @ w
    for column in range(4):  # each column to about 2 % of its own magnitude (7-bit weights)
        assert np.abs(got[:, column] - want[:, column]).max() < 0.04 * np.abs(want[:, column]).max(), column


def test_float16_weights_behind_a_cast_are_quantised_and_the_cast_dropped():
    w = _weights().astype(np.float16)
    data = _model([helper.make_node("Cast", ["w.float16"], ["w"], to=TensorProto.FLOAT, name="cast"),
                   helper.make_node("MatMul", ["x", "w"], ["y"])], {"w.float16": w})
    quantized = quantize_matmuls(data)
    model = onnx.load_from_string(quantized)
    assert [n.op_type for n in model.graph.node] == ["DynamicQuantizeMatMul"]
    assert sorted(t.name for t in model.graph.initializer) == ["w.int8", "w.int8_scale", "w.int8_zero_point"]
    x = np.random.default_rng(3).normal(size=(16, 8)).astype(np.float32)
    got, want = _run(quantized, x)[0], x @ w.astype(np.float32)
    assert np.abs(got - want).max(axis=0) == pytest.approx(0, abs=0.04 * np.abs(want).max())
    assert all(np.abs(got - want)[:, c].max() < 0.04 * np.abs(want[:, c]).max() for c in range(4))


def _float16_graph():
    """x -> Cast to float16 -> MatMul with a float16 constant -> Cast to float32: a product in float16."""
    return _model([helper.make_node("Cast", ["x"], ["x16"], to=TensorProto.FLOAT16),
                   helper.make_node("MatMul", ["x16", "w"], ["y16"]),
                   helper.make_node("Cast", ["y16"], ["y"], to=TensorProto.FLOAT)],
                  {"w": _weights().astype(np.float16)})


def _subgraph_graph():
    """The weights read by a MatMul and inside the branch of an If."""
    branch = helper.make_graph([helper.make_node("ReduceSum", ["w"], ["s"], keepdims=0)], "branch", [],
                               [helper.make_tensor_value_info("s", TensorProto.FLOAT, [])])
    nodes = [helper.make_node("MatMul", ["x", "w"], ["y"]),
             helper.make_node("Constant", [], ["c"], value=numpy_helper.from_array(np.array(True))),
             helper.make_node("If", ["c"], ["z"], then_branch=branch, else_branch=branch)]
    return _model(nodes, {"w": _weights()}, outputs=("y", "z"))


def _collision_graph():
    """A graph that already holds a tensor with the name the int8 weights would get."""
    return _model([helper.make_node("MatMul", ["x", "w"], ["a"]),
                   helper.make_node("Add", ["a", "w.int8_scale"], ["y"])],
                  {"w": _weights(), "w.int8_scale": np.ones(4, np.float32)})


def _infinite_graph():
    w = _weights()
    w[0, 0] = np.inf
    return _model([helper.make_node("MatMul", ["x", "w"], ["y"])], {"w": w})


@pytest.mark.parametrize("make", [_float16_graph, _subgraph_graph, _collision_graph, _infinite_graph],
                         ids=["float16 product", "weights read in a subgraph", "name taken", "infinite weight"])
def test_graphs_it_cannot_quantise_safely_come_back_unchanged(make):
    data = make()
    ort.InferenceSession(data, providers=["CPUExecutionProvider"])  # a valid graph to begin with
    assert quantize_matmuls(data) == data


def test_weights_read_elsewhere_stay_float_and_shared_weights_are_quantised_once():
    w = _weights()
    data = _model([helper.make_node("MatMul", ["x", "w"], ["a"]), helper.make_node("MatMul", ["x", "w"], ["b"]),
                   helper.make_node("Add", ["a", "b"], ["y"]),
                   helper.make_node("ReduceSum", ["w"], ["z"], keepdims=0)], {"w": w}, outputs=("y", "z"))
    quantized = quantize_matmuls(data)
    model = onnx.load_from_string(quantized)
    names = sorted(t.name for t in model.graph.initializer)
    assert names == ["w", "w.int8", "w.int8_scale", "w.int8_zero_point"]  # "w" still feeds ReduceSum
    x = np.random.default_rng(2).normal(size=(4, 8)).astype(np.float32)
    y, z = _run(quantized, x, ("y", "z"))
    np.testing.assert_allclose(z, w.sum(), rtol=1e-5)
    assert np.abs(y - 2 * x @ w).max() < 0.05 * np.abs(2 * x @ w).max()


def test_graphs_without_constant_products_come_back_unchanged_and_quantising_twice_changes_nothing():
    data = _model([helper.make_node("MatMul", ["x", "x_t"], ["p"]), helper.make_node("Transpose", ["x"], ["x_t"]),
                   helper.make_node("ReduceSum", ["p"], ["y"], keepdims=0)], {})
    assert quantize_matmuls(data) == data  # a product of two activations (attention) stays float
    once = quantize_matmuls(_model([helper.make_node("MatMul", ["x", "w"], ["y"])], {"w": _weights()}))
    assert quantize_matmuls(once) == once


def test_the_tiny_edc_graph_keeps_its_outputs_and_metadata(tiny_onnx):
    from model.weights.onnx_proto import io_names, metadata_props
    data = tiny_onnx.read_bytes()
    quantized = quantize_matmuls(data)
    model = onnx.load_from_string(quantized)
    onnx.checker.check_model(model)
    before = onnx.load_from_string(data)
    constant = {t.name for t in before.graph.initializer} | {o for n in before.graph.node if n.op_type == "Cast"
                                                             for o in n.output}
    expected = sum(n.op_type == "MatMul" and n.input[1] in constant for n in before.graph.node)
    assert expected > 0 and sum(n.op_type == "DynamicQuantizeMatMul" for n in model.graph.node) == expected
    assert io_names(quantized) == io_names(data) and metadata_props(quantized) == metadata_props(data)
