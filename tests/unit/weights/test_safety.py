"""Weights files are data, never code or paths: hostile pickles are refused without running, metadata that looks like
paths is never used as one, and odd or huge ONNX metadata is refused with a clear message (issue 6, safety)."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from helpers.hostile import KINDS, hostile_weights
from helpers.inference import run_segment

from model.errors import EDCError, EDCWeightsError
from model.weights import open_weights

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("kind", KINDS)
def test_hostile_pickle_is_refused_without_running(kind, tiny_weights, make_pair, tmp_path):
    path, marker = hostile_weights(kind, tmp_path, tiny_weights)
    optical, sar = make_pair(40, 40)
    for attempt in (lambda: open_weights(path), lambda: run_segment(optical, sar, path, tmp_path / "lc.tif")):
        with pytest.raises(EDCWeightsError, match=f"'{path.name}'.*(cannot be read|no EDC metadata)"):
            attempt()
        assert not marker.exists(), "code from the weights file was executed"
    assert not list(tmp_path.glob("*lc*"))


@pytest.mark.slow
def test_the_payloads_are_live(tiny_weights, tmp_path):
    """Control: an unrestricted unpickler does run each payload (so the test above can fail)."""
    files = [hostile_weights(kind, tmp_path / kind, tiny_weights) for kind in KINDS]
    code = ("import sys, torch\nfor path in sys.argv[1:]:\n    try:\n"
            "        torch.load(path, map_location='cpu', weights_only=False)\n    except Exception:\n        pass")
    run = subprocess.run([sys.executable, "-c", code, *(str(p) for p, _ in files)], cwd=REPO, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert [marker.is_dir() for _, marker in files] == [True] * len(KINDS)


def test_path_like_metadata_is_never_used_as_a_path(tiny_weights, make_pair, tmp_path, monkeypatch):
    """Every free text in the metadata points at files; the run neither opens, creates nor removes any of them."""
    token = "EDCTOKEN"
    bait = tmp_path / "bait"
    bait.mkdir()
    (bait / f"{token}_existing.csv").write_text("do not touch")
    blob = torch.load(tiny_weights, map_location="cpu", weights_only=True)
    meta = json.loads(blob["metadata_json"])
    monkeypatch.chdir(bait)  # relative names below would resolve in the bait folder
    for i, cls in enumerate(meta["classes"]):
        cls["name"] = f"./{token}_class{i}.tif" if i else f"../{token}/<x a=\"1\"/>&"
    meta["inputs"]["optical"]["bands"] = [f"{token}_b{i}.tif" for i in range(3)]
    meta["inputs"]["sar"]["bands"] = [f"/vsimem/../{token}_vv"]
    meta["training"] = {"dataset": f"{bait}/{token}_existing.csv", "out": f"{bait}/{token}_run",
                        "weights_out": f"{bait}/{token}.pt", "log": f"/vsicurl/http://localhost/{token}"}
    meta["metrics"] = {"confusion_png": f"{bait}/{token}_confusion.png"}
    weights = tmp_path / "pathy.pt"
    torch.save({"metadata_json": json.dumps(meta), "state_dict": blob["state_dict"]}, weights)

    touched = []

    def audit(event, args):
        if event in ("open", "os.remove", "os.rename", "os.mkdir", "os.listdir", "os.scandir", "shutil.rmtree",
                     "os.chmod", "os.symlink", "os.link", "os.truncate", "os.utime") and token in repr(args):
            touched.append((event, args))
    sys.addaudithook(audit)  # cannot be removed; it only records events naming the token
    optical, sar = make_pair(48, 48, name="p")
    out = tmp_path / "out"
    out.mkdir()
    result = run_segment(optical, sar, weights, out / "lc.tif", cloudfree=out / "cf.tif", tile_size=32, overlap=4)
    assert touched == []
    assert sorted(p.name for p in bait.iterdir()) == [f"{token}_existing.csv"]
    assert (bait / f"{token}_existing.csv").read_text() == "do not touch"
    assert list(tmp_path.rglob(f"*{token}*")) == [bait / f"{token}_existing.csv"]
    assert {p.name for p in out.iterdir()} - {"cf.tif.aux.xml", "lc.tif.aux.xml"} == {"cf.tif", "lc.qml", "lc.tif"}
    # the texts are kept as data: class names in the statistics and (escaped) in the QGIS style
    assert [s["name"] for s in result.class_stats] == [c["name"] for c in meta["classes"]]
    import xml.etree.ElementTree as ET
    labels = [e.get("label") for e in ET.parse(out / "lc.qml").iter("paletteEntry")]
    assert labels == [c["name"] for c in meta["classes"]]


@pytest.fixture(scope="session")
def onnx_file(tiny_onnx):
    return tiny_onnx


def _with_metadata(onnx_file, folder, value, key="edc_metadata"):
    import onnx
    proto = onnx.load(str(onnx_file))
    del proto.metadata_props[:]
    if value is not None:
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    path = folder / "odd.onnx"
    onnx.save(proto, str(path))
    return path


ODD = {
    "deeply_nested": ("[" * 100000 + "]" * 100000, "not valid JSON"),
    "huge": (json.dumps({"format": "edc-weights", "pad": "x" * (3 << 20)}), "characters long"),
    "huge_number": ('{"format": "edc-weights", "tile_size": ' + "9" * 5000 + "}", "not valid JSON"),
    "not_json": ("{'format': 'edc-weights'", "not valid JSON"),
    "a_list": ("[1, 2, 3]", "no EDC metadata block"),
    "no_architecture": ('{"format": "edc-weights", "format_version": 1}', "'architecture'"),
    "binary": ("\x00\x01\x02\xff", "not valid JSON"),
    "missing": (None, "has no 'edc_metadata' metadata"),
}


@pytest.mark.parametrize("case", sorted(ODD))
def test_odd_onnx_metadata_is_refused_cleanly(case, onnx_file, make_pair, tmp_path):
    value, expected = ODD[case]
    path = _with_metadata(onnx_file, tmp_path, value)
    with pytest.raises(EDCWeightsError, match=expected) as error:
        open_weights(path).metadata
    assert "'odd.onnx'" in str(error.value) and len(str(error.value)) < 1000
    optical, sar = make_pair(32, 32)
    with pytest.raises(EDCWeightsError, match=expected):
        run_segment(optical, sar, path, tmp_path / "lc.tif")
    assert not list(tmp_path.glob("*lc*"))


def test_onnx_external_data_is_refused(onnx_file, make_pair, tmp_path):
    """An ONNX tensor may name a file to read its values from; EDC weights never do, so such files are refused
    (one next to the model, one outside its folder)."""
    import onnx
    proto = onnx.load(str(onnx_file))
    tensor = proto.graph.initializer[0]
    data = tensor.raw_data
    (tmp_path / "secret.bin").write_bytes(data)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "near.bin").write_bytes(data)
    tensor.ClearField("raw_data")
    tensor.data_location = onnx.TensorProto.EXTERNAL
    optical, sar = make_pair(32, 32)
    for location in ("near.bin", "../secret.bin"):
        del tensor.external_data[:]
        for key, value in (("location", location), ("offset", "0"), ("length", str(len(data)))):
            entry = tensor.external_data.add()
            entry.key, entry.value = key, value
        path = tmp_path / "sub" / "external.onnx"
        onnx.save(proto, str(path))
        with pytest.raises(EDCWeightsError, match="external data"):
            open_weights(path).metadata
        with pytest.raises(EDCError, match="external.onnx"):
            run_segment(optical, sar, path, tmp_path / "lc.tif")
    assert not list(tmp_path.glob("*lc*"))


def test_odd_pt_metadata_names_the_file(tiny_weights, tmp_path):
    blob = torch.load(tiny_weights, map_location="cpu", weights_only=True)
    for text, expected in (("[" * 50000, "not valid JSON"), ("x" * (2 << 20), "characters long"),
                           (json.dumps({"format": "edc-weights", "format_version": 1, "architecture": "os.system"}),
                            "'architecture'")):
        path = tmp_path / "odd.pt"
        torch.save({"metadata_json": text, "state_dict": blob["state_dict"]}, path)
        with pytest.raises(EDCWeightsError, match=f"'odd.pt'.*{expected}"):
            open_weights(path).metadata


def test_valid_onnx_still_reads(onnx_file):
    assert open_weights(onnx_file).metadata["architecture"] == "edc"
    assert np.isfinite(open_weights(onnx_file).metadata["tile_size"])
