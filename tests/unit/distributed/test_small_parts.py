"""The small parts of segment_many: the Python that worker processes run inside QGIS, the list of pairs, the
manifest, the threads shared out."""

import os
import sys
from pathlib import Path

import pytest

from model.distributed.block import file_sha256
from model.distributed.cluster import local_threads, worker_python
from model.distributed.manifest import Manifest
from model.distributed.pairs import read_pairs
from model.errors import EDCInputError

STDLIB = os.path.dirname(os.__file__)


def test_worker_python_is_of_the_running_installation(tmp_path):
    real = Path(sys.executable)
    assert worker_python() == sys.executable
    # inside QGIS: sys.executable is QGIS, or another installation's Python found on PATH
    stranger = tmp_path / "elsewhere" / "bin" / "python3"
    stranger.parent.mkdir(parents=True)
    stranger.write_text("#!/bin/sh\n")
    stranger.chmod(0o755)
    found = worker_python(str(stranger))
    assert found != str(stranger) and Path(found).resolve().parent.parent in Path(STDLIB).resolve().parents
    assert worker_python("/usr/bin/qgis_process.bin") == found
    assert worker_python("/usr/bin/qgis", bindir=tmp_path, prefix=tmp_path) is None
    assert real.exists()


def test_threads_are_the_cores_shared_out():
    assert local_threads(2, cores=16) == 8 and local_threads(3, cores=2) == 1 and local_threads(1, cores=4) == 4


def test_pairs_from_a_csv_and_from_a_folder(tmp_path):
    (tmp_path / "list.csv").write_text("SAR,Optical\nb/s1.tif,a/o1.tif\n/abs/s2.tif,/abs/o2.tif\n", encoding="utf-8")
    assert read_pairs(tmp_path / "list.csv") == [("o1", str(tmp_path / "a/o1.tif"), str(tmp_path / "b/s1.tif")),
                                                 ("o2", "/abs/o2.tif", "/abs/s2.tif")]
    for name in ("x_optical.tif", "x_sar.tif", "y_optical.tif", "notes.txt"):
        (tmp_path / name).write_text("")
    assert [p[0] for p in read_pairs(tmp_path)] == ["x", "y"]


@pytest.mark.parametrize("text, message", [
    ("optical,radar\na,b\n", "needs 'optical' and 'sar'"),
    ("optical,sar\n", "lists no pair"),
    ("optical,sar,name\na,b,same\nc,d,same\n", "same name"),
    ("optical,sar,name\na,b,../up\n", "cannot name an output file"),
    ("optical,sar\na,\n", "Line 2"),
])
def test_bad_lists_of_pairs_say_what_is_wrong(tmp_path, text, message):
    (tmp_path / "list.csv").write_text(text)
    with pytest.raises(EDCInputError, match=message):
        read_pairs(tmp_path / "list.csv")


def test_a_missing_list_or_an_empty_folder(tmp_path):
    with pytest.raises(EDCInputError, match="does not exist"):
        read_pairs(tmp_path / "absent.csv")
    with pytest.raises(EDCInputError, match="NAME_optical.tif"):
        read_pairs(tmp_path)


def test_the_manifest_trusts_only_intact_files_made_the_same_way(tmp_path):
    block = tmp_path / "block.tif"
    block.write_bytes(b"complete")
    manifest = Manifest(tmp_path / "manifest.json")
    manifest.add("b1", ["inputs", (1, 2)], {"file": "block.tif", "sha256": file_sha256(block)})
    again = Manifest(tmp_path / "manifest.json")
    assert again.is_done("b1", ["inputs", (1, 2)], tmp_path)
    assert not again.is_done("b1", ["other weights", (1, 2)], tmp_path)
    assert not again.is_done("b2", ["inputs", (1, 2)], tmp_path)
    block.write_bytes(b"complet")
    assert not again.is_done("b1", ["inputs", (1, 2)], tmp_path)
    (tmp_path / "manifest.json").write_text("{half")
    assert Manifest(tmp_path / "manifest.json").entries == {}
    assert [p.name for p in tmp_path.iterdir() if ".part" in p.name] == []


def test_the_command_line_maps_with_the_onnx_default_weights_like_the_plugin():
    """Without --weights the command line takes the bundled ONNX weights (ONNX Runtime only, no torch), the file the
    QGIS algorithms use."""
    from model.distributed.cli import build_parser
    from model.vocabulary import DEFAULT_WEIGHTS_FILE

    weights = Path(build_parser().parse_args(["--out", "x.tif"]).weights)
    assert weights.suffix == ".onnx" and weights.is_file()
    assert weights.name == DEFAULT_WEIGHTS_FILE  # processing_provider/common.py's DEFAULT_WEIGHTS is built from it


def test_cpu_float32_reaches_the_settings_every_block_is_mapped_with():
    from model.distributed.cli import build_parser, options_from
    base = ["--out", "x.tif", "--optical", "a.tif", "--sar", "b.tif"]
    assert options_from(build_parser().parse_args(base)).settings["cpu_int8"] is True
    assert options_from(build_parser().parse_args(base + ["--cpu-float32"])).settings["cpu_int8"] is False
