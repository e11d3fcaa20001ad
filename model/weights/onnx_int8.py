"""int8 matrix products for the CPU, made from a float EDC graph when a CPU session is built.

ONNX Runtime's ``DynamicQuantizeMatMul`` (domain com.microsoft) multiplies int8 weights with activations it quantises
to uint8 at every pass; for EDC's linear layers (96 matrix products holding 7.0 M of the small model's 9.6 M weights)
that took 5-13 % less network time per 512 px tile than float32 on the development CPU, 6 % less time end to end
(BENCHMARKS.md), with the same flood-water IoU on the OMBRIA test split within 0.001.  The weights file stays float
(float16 storage): one file for the CPU and the GPU, where CUDA has no kernel for these nodes.  Each matrix product
whose second input is a constant (a float32 initializer, or a Cast to float32 of a float16 or float32 one) becomes one
``DynamicQuantizeMatMul`` with symmetric per-column weights of 7 bits (-63..63, zero point 0; see ``WEIGHT_LEVELS``);
convolutions stay float (quantised
ones ran 3x slower here).  Graphs already quantised, without such products, or with subgraphs (If, Loop: not EDC's)
come back unchanged.  Works on the protobuf bytes (:mod:`.onnx_proto`), without the ``onnx`` package.  ``VARIANT``
names this transform in the session cache: change it with the transform, so that graphs an older one cached are not
reused.
"""

import numpy as np

from .onnx_proto import (ATTR_G, ATTR_GRAPHS, GRAPH_INITIALIZER, GRAPH_INPUT, GRAPH_NODE, GRAPH_OUTPUT, LENGTH,
                         MODEL_GRAPH, NAME, NODE_ATTRIBUTE, VARINT, _encode_varint, _length_field, _name, _varint,
                         fields)

MODEL_OPSET_IMPORT = 8                                       # ModelProto
OPSET_DOMAIN, OPSET_VERSION = 1, 2                           # OperatorSetIdProto
NODE_INPUT, NODE_OUTPUT, NODE_OP_TYPE, NODE_DOMAIN = 1, 2, 4, 7  # NodeProto (attributes: NODE_ATTRIBUTE)
TEXT_FIELDS = {NODE_INPUT: "inputs", NODE_OUTPUT: "outputs", NODE_OP_TYPE: "op_type", NODE_DOMAIN: "domain"}
ATTR_INT = 3                                                 # AttributeProto (its name: NAME)
TENSOR_DIMS, TENSOR_TYPE, TENSOR_NAME, TENSOR_RAW = 1, 2, 8, 9  # TensorProto
FLOAT, INT8, FLOAT16 = 1, 3, 10                              # TensorProto.DataType
FLOAT_TYPES = {FLOAT: "<f4", FLOAT16: "<f2"}
QUANTIZED_OP, QUANTIZED_DOMAIN = "DynamicQuantizeMatMul", "com.microsoft"
# Weights use 7 of int8's bits: x86 CPUs without VNNI (AVX2 only, common in desktops) multiply uint8 activations by
# int8 weights in pairs summed into int16, which saturates for 255 * 127 * 2; with 63 it cannot (255 * 63 * 2 < 32767),
# so every CPU computes the same exact integer products (with 127 such CPUs gave errors 7x the tests' bound).
WEIGHT_LEVELS = 63
SUFFIXES = (".int8", ".int8_scale", ".int8_zero_point")   # the new tensors' names: weight name + suffix
VARIANT = "int8-2"


def quantize_matmuls(data):
    """The ONNX model ``data`` (bytes) with its constant-weight MatMuls as int8 ``DynamicQuantizeMatMul`` nodes."""
    parts, changed = [], False
    for number, wire, value, start, end in fields(data):
        if number == MODEL_GRAPH and wire == LENGTH:
            graph, changed = _quantized_graph(value)
            parts.append(_length_field(MODEL_GRAPH, graph) if changed else bytes(data[start:end]))
        else:
            parts.append(bytes(data[start:end]))
    if not changed:
        return bytes(data)
    if QUANTIZED_DOMAIN not in _opset_domains(data):
        parts.append(_length_field(MODEL_OPSET_IMPORT, _string(OPSET_DOMAIN, QUANTIZED_DOMAIN)
                                   + _varint_field(OPSET_VERSION, 1)))
    return b"".join(parts)


def _quantized_graph(graph):
    """(graph bytes, whether any product was quantised)."""
    items = list(fields(graph))
    initializers = {i: _tensor(v) for i, (n, w, v, _, _) in enumerate(items) if n == GRAPH_INITIALIZER and w == LENGTH}
    tensors = {t["name"]: t for t in initializers.values()}
    nodes = {i: _node(v) for i, (n, w, v, _, _) in enumerate(items) if n == GRAPH_NODE and w == LENGTH}
    if any(node["subgraph"] for node in nodes.values()):  # names read inside a subgraph are not counted here
        return graph, False
    producer = {out: i for i, node in nodes.items() for out in node["outputs"]}
    uses = _uses(nodes.values(), [_name(v) for n, w, v, _, _ in items if n in (GRAPH_INPUT, GRAPH_OUTPUT)
                                  and w == LENGTH])
    replaced, added, dropped, released = {}, {}, set(), set()
    for index, node in nodes.items():
        weight = node["op_type"] == "MatMul" and not node["domain"] and _constant(node["inputs"][1:2], tensors,
                                                                                    nodes, producer)
        if not weight:
            continue
        name, source, cast = weight
        if name not in added:
            added[name] = _quantized_tensors(name, source)
        replaced[index] = _node_bytes(node, [node["inputs"][0]] + [t[0] for t in added[name]])
        uses[name] -= 1
        if uses[name] == 0 and cast is not None:  # the Cast feeds nothing now: drop it, and its input if unread
            dropped.add(cast)
            uses[source["name"]] -= 1
        if uses[source["name"]] == 0:  # nothing reads the float weights any more
            released.add(source["name"])
    if not replaced:
        return graph, False
    out = []
    for i, (number, wire, value, start, end) in enumerate(items):
        if i in dropped or (i in initializers and initializers[i]["name"] in released):
            continue
        out.append(replaced[i] if i in replaced else bytes(graph[start:end]))
    out += [_length_field(GRAPH_INITIALIZER, tensor) for tensors_ in added.values() for _, tensor in tensors_]
    return b"".join(out), True


def _uses(nodes, graph_names):
    """How many node inputs (and graph inputs and outputs) name each value."""
    uses = {}
    for name in [n for node in nodes for n in node["inputs"]] + graph_names:
        uses[name] = uses.get(name, 0) + 1
    return uses


def _constant(names, tensors, nodes, producer):
    """(name, float 2-D initializer, index of the Cast node or None) where ``names`` is [the MatMul's weight input]
    and that is such an initializer or a Cast to float of one; else None."""
    if not names or not names[0]:
        return None
    name, cast = names[0], producer.get(names[0])
    node = nodes.get(cast)
    if name not in tensors and node and node["op_type"] == "Cast" and node["to"] == FLOAT and not node["domain"]:
        source = tensors.get(node["inputs"][0]) if node["inputs"] else None
        types = FLOAT_TYPES
    else:
        source, cast, types = tensors.get(name), None, (FLOAT,)  # a float16 product stays float16: not ours
    if source is None or source["type"] not in types or len(source["dims"]) != 2 or source["raw"] is None \
            or 0 in source["dims"] or any(name + suffix in tensors for suffix in SUFFIXES):
        return None
    weight = np.frombuffer(source["raw"], FLOAT_TYPES[source["type"]]).reshape(source["dims"])
    return (name, source, cast) if np.isfinite(weight).all() else None


def _quantized_tensors(name, source):
    """[(name, TensorProto bytes)] of the int8 weights, their per-column scales and zero points."""
    weight = np.frombuffer(source["raw"], FLOAT_TYPES[source["type"]]).astype(np.float32).reshape(source["dims"])
    scale = np.maximum(np.abs(weight).max(axis=0), 1e-12) / WEIGHT_LEVELS
    values = np.clip(np.rint(weight / scale), -WEIGHT_LEVELS, WEIGHT_LEVELS).astype(np.int8)
    arrays = (values, scale.astype("<f4"), np.zeros(scale.shape, np.int8))
    return [(name + suffix, _tensor_bytes(name + suffix, data_type, array))
            for suffix, data_type, array in zip(SUFFIXES, (INT8, FLOAT, INT8), arrays)]


def _tensor(value):
    """name, dims, type and raw bytes (None where the values are not stored as raw data) of a TensorProto."""
    tensor = {"name": "", "dims": [], "type": 0, "raw": None}
    for number, wire, field, _, _ in fields(value):
        if number == TENSOR_DIMS:
            tensor["dims"] += [field] if wire == VARINT else _packed_varints(field)
        elif number == TENSOR_TYPE and wire == VARINT:
            tensor["type"] = field
        elif number == TENSOR_NAME and wire == LENGTH:
            tensor["name"] = bytes(field).decode("utf-8")
        elif number == TENSOR_RAW and wire == LENGTH:
            tensor["raw"] = bytes(field)
    return tensor


def _node(value):
    """inputs, outputs, op_type, domain, Cast's ``to`` and every other field's bytes of a NodeProto."""
    node = {"inputs": [], "outputs": [], "op_type": "", "domain": "", "to": None, "subgraph": False, "rest": []}
    for number, wire, field, start, end in fields(value):
        text = bytes(field).decode("utf-8") if wire == LENGTH and number in TEXT_FIELDS else None
        if text is not None and number in (NODE_INPUT, NODE_OUTPUT):
            node["inputs" if number == NODE_INPUT else "outputs"].append(text)
            continue
        if text is not None:
            node[TEXT_FIELDS[number]] = text
            continue
        if number == NODE_ATTRIBUTE and wire == LENGTH:
            attribute = {n: v for n, w, v, _, _ in fields(field)}
            if bytes(attribute.get(NAME, b"")) == b"to":
                node["to"] = attribute.get(ATTR_INT)
            node["subgraph"] |= ATTR_G in attribute or ATTR_GRAPHS in attribute
        node["rest"].append(bytes(value[start:end]))
    return node


def _node_bytes(node, inputs):
    """The NodeProto of ``node`` as an int8 product of ``inputs``, its outputs, name and attributes kept."""
    return _length_field(GRAPH_NODE, b"".join(
        [_string(NODE_INPUT, name) for name in inputs] + [_string(NODE_OUTPUT, name) for name in node["outputs"]]
        + node["rest"] + [_string(NODE_OP_TYPE, QUANTIZED_OP), _string(NODE_DOMAIN, QUANTIZED_DOMAIN)]))


def _tensor_bytes(name, data_type, values):
    return (b"".join(_varint_field(TENSOR_DIMS, d) for d in values.shape) + _varint_field(TENSOR_TYPE, data_type)
            + _string(TENSOR_NAME, name) + _length_field(TENSOR_RAW, np.ascontiguousarray(values).tobytes()))


def _opset_domains(data):
    domains = set()
    for number, wire, value, _, _ in fields(data):
        if number == MODEL_OPSET_IMPORT and wire == LENGTH:
            domains |= {bytes(v).decode("utf-8") for n, w, v, _, _ in fields(value) if n == OPSET_DOMAIN}
    return domains or {""}


def _packed_varints(data):
    values, pos = [], 0
    while pos < len(data):
        value, pos = _varint(data, pos)
        values.append(value)
    return values


def _string(number, text):
    return _length_field(number, text.encode("utf-8"))


def _varint_field(number, value):
    return _encode_varint(number << 3 | VARINT) + _encode_varint(value)
