import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from model.errors import EDCWeightsError
from model.network import build_model, preset_config
from model.weights import make_metadata, open_weights, save_weights
from model.weights.onnx_export import export_onnx

torch.set_num_threads(1)
REPO = Path(__file__).resolve().parents[3]
SLOW = pytest.mark.slow  # an ONNX export each


def make(architecture="edc", preset="tiny", seed=0, version=1, **options):
    torch.manual_seed(seed)
    config = preset_config(preset, 3, 2, 3, version=version, **options)
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


@pytest.fixture(scope="module")
def made_onnx(tmp_path_factory):
    """(path, metadata) of ``make()`` exported to ONNX, once for the tests that only read such a file."""
    model, meta = make()
    return export_onnx(model, meta, tmp_path_factory.mktemp("onnx") / "w.onnx"), meta


def inputs(h=250, w=333, batch=2):
    torch.manual_seed(1)
    return torch.randn(batch, 3, h, w), torch.randn(batch, 2, h, w)


@pytest.mark.parametrize("architecture, version", [("edc", 1), ("edc", 2), ("dense_tristream", 1),
                                                   ("early_concat", 1)])
def test_pt_round_trip_keeps_metadata_and_outputs(tmp_path, architecture, version):
    model, meta = make(architecture, version=version)
    path = save_weights(model, meta, tmp_path / "w.pt")
    weights = open_weights(path)
    loaded = weights.build_model()
    assert weights.metadata == meta and not loaded.training
    x = inputs(64, 80)
    with torch.no_grad():
        a, b = model(*x), loaded(*x)
    for key in ("logits", "cloudfree", "reliability"):
        assert torch.equal(a[key], b[key])
    assert not list(tmp_path.glob("*.part"))


@pytest.mark.parametrize("architecture, preset, version, options", [
    ("edc", "tiny", 1, {}), pytest.param("edc", "tiny", 2, {}, marks=SLOW),
    pytest.param("edc", "tiny", 3, {"feedback": False}, marks=SLOW),
    pytest.param("dense_tristream", "tiny", 1, {}, marks=SLOW), pytest.param("sar_only", "tiny", 1, {}, marks=SLOW)])
def test_onnx_round_trip_matches_pytorch(tmp_path, architecture, preset, version, options):
    ort = pytest.importorskip("onnxruntime")
    model, meta = make(architecture, preset, version=version, **options)
    path = export_onnx(model, meta, tmp_path / "w.onnx")
    assert open_weights(path).metadata == meta
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


@pytest.mark.slow
@pytest.mark.parametrize("blocked", [["torch"], ["torch", "onnx"]])
def test_read_onnx_metadata_without_torch(made_onnx, blocked):
    """Reading .onnx metadata needs neither torch nor (with onnxruntime installed) the onnx package."""
    path, meta = made_onnx
    code = (f"import sys, json; sys.modules.update(dict.fromkeys({blocked!r}))\n"
            "from model.weights import open_weights\n"
            f"print(json.dumps(open_weights({str(path)!r}).metadata, sort_keys=True))")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == meta


def test_missing_file(tmp_path):
    with pytest.raises(EDCWeightsError, match="does not exist"):
        open_weights(tmp_path / "nothing.pt").build_model()
    with pytest.raises(EDCWeightsError, match="does not exist"):
        open_weights(tmp_path / "nothing.onnx")


def test_truncated_and_foreign_files(tmp_path):
    model, meta = make()
    good = save_weights(model, meta, tmp_path / "w.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(good[: len(good) // 2])
    (tmp_path / "text.pt").write_text("hello, I am not a weights file")
    for name in ("cut.pt", "text.pt"):
        with pytest.raises(EDCWeightsError, match="truncated, damaged or not an EDC weights file"):
            open_weights(tmp_path / name).build_model()
    torch.save({"weights": torch.zeros(3)}, tmp_path / "plain.pt")
    with pytest.raises(EDCWeightsError, match="no EDC metadata"):
        open_weights(tmp_path / "plain.pt")
    (tmp_path / "bad.onnx").write_bytes(b"\x08\x07garbage" * 10)
    with pytest.raises(EDCWeightsError):
        open_weights(tmp_path / "bad.onnx")


def write_raw(path, meta, state):
    torch.save({"metadata_json": json.dumps(meta), "state_dict": state}, path)
    return path


def test_unknown_architecture(tmp_path):
    model, meta = make()
    path = write_raw(tmp_path / "u.pt", dict(meta, architecture="unet"), model.state_dict())
    with pytest.raises(EDCWeightsError, match="architecture"):
        open_weights(path).build_model()


def test_state_dict_mismatch(tmp_path):
    model, meta = make()
    other = dict(meta, config=preset_config("tiny", 3, 2, 5))  # 5 classes declared, weights have 3
    with pytest.raises(EDCWeightsError, match="does not match its declared edc configuration"):
        open_weights(write_raw(tmp_path / "m.pt", other, model.state_dict())).build_model()
    state = dict(model.state_dict())
    state.pop(next(iter(state)))
    with pytest.raises(EDCWeightsError, match="missing"):
        open_weights(write_raw(tmp_path / "m2.pt", meta, state)).build_model()
    bad_config = dict(meta, config={"in_optical": 3})
    with pytest.raises(EDCWeightsError, match="config"):
        open_weights(write_raw(tmp_path / "m3.pt", bad_config, model.state_dict())).build_model()


def test_onnx_without_metadata(made_onnx, tmp_path):
    onnx = pytest.importorskip("onnx")
    path, _ = made_onnx
    proto = onnx.load(str(path))
    del proto.metadata_props[:]
    onnx.save(proto, str(tmp_path / "bare.onnx"))
    with pytest.raises(EDCWeightsError, match="edc_metadata"):
        open_weights(tmp_path / "bare.onnx")
    with pytest.raises(EDCWeightsError, match="ONNX"):
        open_weights(path).build_model()


def test_saving_with_metadata_of_another_model_is_refused(tmp_path):
    model, meta = make()
    with pytest.raises(EDCWeightsError, match="do not describe the model"):
        save_weights(model, dict(meta, config=preset_config("tiny", 3, 2, 5)), tmp_path / "w.pt")
    with pytest.raises(EDCWeightsError, match="do not describe the model"):
        save_weights(model, dict(meta, architecture="optical_only"), tmp_path / "w.pt")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("suffix", [".pt", ".onnx"])
def test_a_weights_file_is_read_once(made_onnx, tmp_path, suffix):
    """open_weights reads and validates the file once: the runtime builds its predictor from what was read, so
    the file may even be gone by then."""
    pytest.importorskip("onnxruntime")
    import shutil

    from model.inference.runtime import load_predictor
    path = tmp_path / f"w{suffix}"
    if suffix == ".onnx":
        shutil.copy(made_onnx[0], path)
    else:
        save_weights(*make(), path)
    weights = open_weights(path)
    path.unlink()
    predictor = load_predictor(weights, device="cpu", log=None)
    optical, sar = inputs(40, 48, batch=1)
    out = predictor.predict(optical.numpy(), sar.numpy())
    assert out["probabilities"].shape == (1, 3, 40, 48)
