"""The packages folder stays consistent (python_deps/target_folder.py): what QGIS has is dropped from pip's staging
folder by its RECORD, and the rest replaces older copies in the target without touching anything else."""

import os

from python_deps.target_folder import dist_info_name, drop_distributions, merge, staging_folder


def fake_dist(folder, name, version, files):
    """A distribution as pip unpacks it: its files and a ``.dist-info`` with a RECORD listing them."""
    info = folder / f"{name}-{version}.dist-info"
    info.mkdir(parents=True)
    for relative in files:
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_text(f"{name} {version}\n")
    rows = [f"{relative},sha256=x,1" for relative in files] + [f"{info.name}/RECORD,,"]
    (info / "RECORD").write_text("\n".join(rows) + "\n")
    return info


def listing(folder):
    return sorted([os.path.relpath(os.path.join(root, name), folder) for root, _, names in os.walk(folder)
                   for name in names] + [os.path.relpath(root, folder) + "/" for root, _, _ in os.walk(folder)
                                         if root != str(folder)])


def test_qgis_own_numpy_is_dropped_with_its_scripts_and_libraries(tmp_path):
    staging = tmp_path / "staging"
    fake_dist(staging, "numpy", "1.24.2", ["numpy/__init__.py", "numpy/core/x.py", "numpy.libs/libopenblas.so",
                                           "bin/f2py"])
    fake_dist(staging, "onnxruntime", "1.31.1", ["onnxruntime/__init__.py", "bin/onnxruntime_test"])
    assert drop_distributions(staging, ["numpy", "scipy"]) == ["numpy"]
    assert listing(staging) == ["bin/", "bin/onnxruntime_test", "onnxruntime-1.31.1.dist-info/",
                                "onnxruntime-1.31.1.dist-info/RECORD", "onnxruntime/", "onnxruntime/__init__.py"]


def test_merge_replaces_older_versions_and_keeps_everything_else(tmp_path):
    target, staging = tmp_path / "edc_packages", tmp_path / "edc_packages.installing"
    fake_dist(target, "onnxruntime", "1.30.0", ["onnxruntime/__init__.py", "onnxruntime/old_only.py"])
    fake_dist(target, "torch", "2.13.0", ["torch/__init__.py"])  # installed before, not now: stays
    fake_dist(target, "protobuf", "6.0", ["google/protobuf/__init__.py"])
    fake_dist(target, "googleapis-common-protos", "1.0", ["google/api/__init__.py"])  # same namespace package
    (target / "edc-install.log").write_text("earlier run\n")
    (target / "edc-venv.pth").write_text("/somewhere\n")
    fake_dist(staging, "onnxruntime", "1.31.1", ["onnxruntime/__init__.py"])
    fake_dist(staging, "protobuf", "7.36.2", ["google/protobuf/__init__.py"])
    merge(staging, target)
    assert not staging.exists()
    names = sorted(os.listdir(target))
    assert names == ["edc-install.log", "edc-venv.pth", "google", "googleapis-common-protos-1.0.dist-info",
                     "onnxruntime", "onnxruntime-1.31.1.dist-info", "protobuf-7.36.2.dist-info", "torch",
                     "torch-2.13.0.dist-info"]
    assert (target / "onnxruntime" / "__init__.py").read_text() == "onnxruntime 1.31.1\n"
    assert not (target / "onnxruntime" / "old_only.py").exists()  # the package was replaced, not overlaid
    assert (target / "google" / "protobuf" / "__init__.py").read_text() == "protobuf 7.36.2\n"
    assert (target / "google" / "api" / "__init__.py").is_file()
    assert (target / "edc-install.log").read_text() == "earlier run\n"


def test_merge_into_a_missing_target_creates_it(tmp_path):
    staging = tmp_path / "s"
    fake_dist(staging, "tqdm", "4.70.1", ["tqdm/__init__.py"])
    merge(staging, tmp_path / "new")
    assert sorted(os.listdir(tmp_path / "new")) == ["tqdm", "tqdm-4.70.1.dist-info"]


def test_staging_folder_is_fresh_and_beside_the_target(tmp_path):
    target = tmp_path / "edc_packages"
    first = staging_folder(target)
    (tmp_path / "edc_packages.installing" / "left_over").write_text("from a killed run")
    again = staging_folder(target)
    assert first == again == str(tmp_path / "edc_packages.installing") and os.listdir(again) == []


def test_dist_info_names_are_normalized():
    assert dist_info_name("Typing_Extensions-4.12.2.dist-info") == "typing-extensions"
    assert dist_info_name("onnxruntime_gpu-1.31.1.dist-info") == "onnxruntime-gpu"
    assert dist_info_name("onnxruntime") is None
