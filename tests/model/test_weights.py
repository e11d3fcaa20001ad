import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from model.errors import EDCWeightsError
from model.metadata import make_metadata
from model.network import build_model, preset_config
from model.weights import export_onnx, load_weights, read_metadata, save_weights

torch.set_num_threads(1)
REPO = Path(__file__).resolve().parents[2]


def make(architecture="edc", preset="tiny", seed=0):
    torch.manual_seed(seed)
    config = preset_config(preset, 3, 2, 3)
    model = build_model(architecture, config).eval()
    # non-trivial BatchNorm statistics, as after training
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    meta = make_metadata(architecture, config, [("land", "#33a02c"), ("water", "#1f78b4"), ("cloud", "#ffffff")],
                         ["red", "green", "blue"], ["VV", "VH"], training={"dataset": "unit test"},
                         metrics={"miou": 0.5})
    return model, meta


def inputs(h=250, w=333, batch=2):
    torch.manual_seed(1)
    return torch.randn(batch, 3, h, w), torch.randn(batch, 2, h, w)


@pytest.mark.parametrize("architecture", ["edc", "dense_tristream", "early_concat"])
def test_pt_round_trip_keeps_metadata_and_outputs(tmp_path, architecture):
    model, meta = make(architecture)
    path = save_weights(model, meta, tmp_path / "w.pt")
    assert read_metadata(path) == meta
    loaded, meta2 = load_weights(path)
    assert meta2 == meta and not loaded.training
    x = inputs(64, 80)
    with torch.no_grad():
        a, b = model(*x), loaded(*x)
    for key in ("logits", "cloudfree", "reliability"):
        assert torch.equal(a[key], b[key])
    assert not list(tmp_path.glob("*.part"))


@pytest.mark.parametrize("architecture, preset", [("edc", "tiny"), ("edc", "small"), ("dense_tristream", "tiny"),
                                                  ("sar_only", "tiny")])
def test_onnx_round_trip_matches_pytorch(tmp_path, architecture, preset):
    ort = pytest.importorskip("onnxruntime")
    model, meta = make(architecture, preset)
    path = export_onnx(model, meta, tmp_path / "w.onnx")
    assert read_metadata(path) == meta
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["optical", "sar"]
    assert [o.name for o in session.get_outputs()] == ["probabilities", "cloudfree", "reliability"]
    optical, sar = inputs(250, 333)  # not the size used for export: height and width are dynamic
    probs, cloudfree, reliability = session.run(None, {"optical": optical.numpy(), "sar": sar.numpy()})
    with torch.no_grad():
        ref = model(optical, sar)
    assert probs.shape == (2, 3, 250, 333)
    np.testing.assert_allclose(probs, ref["logits"].softmax(1).numpy(), atol=1e-4, rtol=0)
    np.testing.assert_allclose(cloudfree, ref["cloudfree"].numpy(), atol=1e-4, rtol=0)
    np.testing.assert_allclose(reliability, ref["reliability"].numpy(), atol=1e-4, rtol=0)
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-5)


@pytest.mark.parametrize("blocked", [["torch"], ["torch", "onnx"]])
def test_read_onnx_metadata_without_torch(tmp_path, blocked):
    """Reading .onnx metadata needs neither torch nor (with onnxruntime installed) the onnx package."""
    model, meta = make()
    path = export_onnx(model, meta, tmp_path / "w.onnx")
    code = (f"import sys, json; sys.modules.update(dict.fromkeys({blocked!r}))\n"
            "from model.weights import read_metadata\n"
            f"print(json.dumps(read_metadata({str(path)!r}), sort_keys=True))")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == meta


def test_missing_file(tmp_path):
    with pytest.raises(EDCWeightsError, match="does not exist"):
        load_weights(tmp_path / "nothing.pt")
    with pytest.raises(EDCWeightsError, match="does not exist"):
        read_metadata(tmp_path / "nothing.onnx")


def test_truncated_and_foreign_files(tmp_path):
    model, meta = make()
    good = save_weights(model, meta, tmp_path / "w.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(good[: len(good) // 2])
    (tmp_path / "text.pt").write_text("hello, I am not a weights file")
    for name in ("cut.pt", "text.pt"):
        with pytest.raises(EDCWeightsError, match="truncated, damaged or not an EDC weights file"):
            load_weights(tmp_path / name)
    torch.save({"weights": torch.zeros(3)}, tmp_path / "plain.pt")
    with pytest.raises(EDCWeightsError, match="no EDC metadata"):
        read_metadata(tmp_path / "plain.pt")
    (tmp_path / "bad.onnx").write_bytes(b"\x08\x07garbage" * 10)
    with pytest.raises(EDCWeightsError):
        read_metadata(tmp_path / "bad.onnx")


class Payload:
    pass


def test_pickled_objects_are_refused(tmp_path):
    torch.save({"metadata_json": "{}", "state_dict": {}, "x": Payload()}, tmp_path / "evil.pt")
    with pytest.raises(EDCWeightsError, match="cannot be read"):
        load_weights(tmp_path / "evil.pt")


def write_raw(path, meta, state):
    torch.save({"metadata_json": json.dumps(meta), "state_dict": state}, path)
    return path


def test_unknown_architecture(tmp_path):
    model, meta = make()
    path = write_raw(tmp_path / "u.pt", dict(meta, architecture="unet"), model.state_dict())
    with pytest.raises(EDCWeightsError, match="architecture"):
        load_weights(path)


def test_state_dict_mismatch(tmp_path):
    model, meta = make()
    other = dict(meta, config=preset_config("tiny", 3, 2, 5))  # 5 classes declared, weights have 3
    with pytest.raises(EDCWeightsError, match="does not match its declared edc configuration"):
        load_weights(write_raw(tmp_path / "m.pt", other, model.state_dict()))
    state = dict(model.state_dict())
    state.pop(next(iter(state)))
    with pytest.raises(EDCWeightsError, match="missing"):
        load_weights(write_raw(tmp_path / "m2.pt", meta, state))
    bad_config = dict(meta, config={"in_optical": 3})
    with pytest.raises(EDCWeightsError, match="config"):
        load_weights(write_raw(tmp_path / "m3.pt", bad_config, model.state_dict()))


def test_onnx_without_metadata(tmp_path):
    onnx = pytest.importorskip("onnx")
    model, meta = make()
    path = export_onnx(model, meta, tmp_path / "w.onnx")
    proto = onnx.load(str(path))
    del proto.metadata_props[:]
    onnx.save(proto, str(tmp_path / "bare.onnx"))
    with pytest.raises(EDCWeightsError, match="edc_metadata"):
        read_metadata(tmp_path / "bare.onnx")
    with pytest.raises(EDCWeightsError, match="ONNX"):
        load_weights(path)


def test_saving_with_metadata_of_another_model_is_refused(tmp_path):
    model, meta = make()
    with pytest.raises(EDCWeightsError, match="do not describe the model"):
        save_weights(model, dict(meta, config=preset_config("tiny", 3, 2, 5)), tmp_path / "w.pt")
    with pytest.raises(EDCWeightsError, match="do not describe the model"):
        save_weights(model, dict(meta, architecture="optical_only"), tmp_path / "w.pt")
    assert not list(tmp_path.iterdir())
