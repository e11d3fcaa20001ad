"""Just enough of the ONNX file format (protocol buffers) to open EDC weights without the ``onnx`` package.

ONNX Runtime alone is what users install to map; it cannot read a model's metadata without building a whole session
(seconds for EDC), and it has no way to drop the outputs a run does not want.  Both need only the top levels of the
protobuf messages: ``ModelProto`` (metadata_props, graph), ``GraphProto`` (initializer, node, output) and, to refuse
external tensor data, ``TensorProto.data_location``.  Field numbers are those of onnx.proto3.
"""

from ..errors import EDCWeightsError

VARINT, FIXED64, LENGTH, FIXED32 = 0, 1, 2, 5
MODEL_GRAPH, MODEL_METADATA = 7, 14                                  # ModelProto
GRAPH_NODE, GRAPH_INITIALIZER, GRAPH_INPUT, GRAPH_OUTPUT = 1, 5, 11, 12  # GraphProto
NODE_ATTRIBUTE = 5                                                   # NodeProto
ATTR_T, ATTR_G, ATTR_TENSORS, ATTR_GRAPHS = 5, 6, 10, 11             # AttributeProto
TENSOR_DATA_LOCATION, EXTERNAL = 14, 1                               # TensorProto
EXTERNAL_KEY = b"location"                                           # the key of TensorProto.external_data's file
NAME = KEY = 1                                                       # ValueInfoProto.name, StringStringEntry.key
VALUE = 2                                                            # StringStringEntryProto.value


class ProtoError(ValueError):
    """The bytes are not a well-formed protobuf message."""


def _varint(data, pos):
    value = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ProtoError("truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def fields(data):
    """(field number, wire type, value, start, end) of each top-level field of a message: ``value`` is an int for
    varints, a memoryview for length-delimited fields, None for fixed-size ones; ``start:end`` are its bytes."""
    data, pos = memoryview(data), 0
    while pos < len(data):
        start = pos
        tag, pos = _varint(data, pos)
        number, wire = tag >> 3, tag & 7
        if wire == VARINT:
            value, pos = _varint(data, pos)
        elif wire == LENGTH:
            size, pos = _varint(data, pos)
            if pos + size > len(data):
                raise ProtoError("truncated field")
            value, pos = data[pos:pos + size], pos + size
        elif wire in (FIXED64, FIXED32):
            value, pos = None, pos + (8 if wire == FIXED64 else 4)
        else:
            raise ProtoError(f"wire type {wire}")
        if pos > len(data):
            raise ProtoError("truncated field")
        yield number, wire, value, start, pos


def _encode_varint(value):
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _length_field(number, payload):
    return _encode_varint(number << 3 | LENGTH) + _encode_varint(len(payload)) + bytes(payload)


def _graph(data):
    for number, wire, value, _, _ in fields(data):
        if number == MODEL_GRAPH and wire == LENGTH:
            return value
    raise ProtoError("no graph")


def metadata_props(data):
    """{key: value} of an ONNX model's metadata_props."""
    props = {}
    for number, wire, value, _, _ in fields(data):
        if number == MODEL_METADATA and wire == LENGTH:
            entry = {n: bytes(v).decode("utf-8") for n, w, v, _, _ in fields(value) if w == LENGTH}
            props[entry.get(KEY, "")] = entry.get(VALUE, "")
    return props


def io_names(data, field=GRAPH_OUTPUT):
    """The names of the graph's outputs (or, with ``field=GRAPH_INPUT``, inputs), in order."""
    return [_name(value) for number, wire, value, _, _ in fields(_graph(data)) if number == field and wire == LENGTH]


def _name(value_info):
    return next((bytes(v).decode("utf-8") for n, w, v, _, _ in fields(value_info) if n == NAME and w == LENGTH), "")


def uses_external_data(data):
    """Whether a tensor of the model's graph (initializers, node attributes, subgraphs) keeps its data in another
    file.  Such a tensor names its file under the key "location": without these bytes anywhere, none does (a
    search in C, against a walk through every node in Python)."""
    if EXTERNAL_KEY not in bytes(data):
        return False
    return _graph_external(_graph(data))


def _graph_external(graph):
    for number, wire, value, _, _ in fields(graph):
        if wire != LENGTH:
            continue
        if number == GRAPH_INITIALIZER and _tensor_external(value):
            return True
        if number == GRAPH_NODE and any(_attribute_external(v) for n, w, v, _, _ in fields(value)
                                        if n == NODE_ATTRIBUTE and w == LENGTH):
            return True
    return False


def _tensor_external(tensor):
    return any(n == TENSOR_DATA_LOCATION and w == VARINT and v == EXTERNAL for n, w, v, _, _ in fields(tensor))


def _attribute_external(attribute):
    for number, wire, value, _, _ in fields(attribute):
        if wire == LENGTH and ((number in (ATTR_T, ATTR_TENSORS) and _tensor_external(value)) or
                               (number in (ATTR_G, ATTR_GRAPHS) and _graph_external(value))):
            return True
    return False


def keep_outputs(data, names):
    """The model with only the graph outputs in ``names``: ONNX Runtime then drops the nodes that only fed the
    others, and no run computes them."""
    names, model = set(names), bytearray()
    for number, wire, value, start, end in fields(data):
        if number == MODEL_GRAPH and wire == LENGTH:
            model += _length_field(MODEL_GRAPH, _without(value, [(s, e) for n, w, v, s, e in fields(value)
                                                                if n == GRAPH_OUTPUT and w == LENGTH
                                                                and _name(v) not in names]))
        else:
            model += memoryview(data)[start:end]
    return bytes(model)


def _without(data, spans):
    """``data`` without the byte ranges ``spans`` (sorted, disjoint)."""
    parts, pos = [], 0
    for start, end in spans:
        parts.append(data[pos:start])
        pos = end
    parts.append(data[pos:])
    return b"".join(parts)


def read_onnx_header(data, label):
    """(metadata_props, input names, output names) of ONNX ``data``; EDCWeightsError naming ``label`` when the bytes
    are not an ONNX model or keep tensor data in other files."""
    try:
        props, inputs, outputs = metadata_props(data), io_names(data, GRAPH_INPUT), io_names(data)
        external = uses_external_data(data)
    except (ProtoError, UnicodeDecodeError) as exc:
        raise EDCWeightsError(f"Weights file '{label}' cannot be read as ONNX ({exc}): it is truncated, damaged or "
                              "not an EDC weights file. Download or export it again.") from None
    if external:
        raise EDCWeightsError(f"Weights file '{label}' points at tensor data in other files (ONNX external data): it "
                              "is truncated, damaged or not an EDC weights file. Download or export it again.")
    return props, inputs, outputs
