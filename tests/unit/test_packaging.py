"""`make package` (the Install-from-ZIP plugin ZIP) and `make install` / `make uninstall` (the desktop profile),
without QGIS: file lists, metadata, the QGIS3.ini edit and the sys.path entry the plugin adds when it loads."""

import configparser
import importlib.util
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from scripts import desktop_install, package

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def plugin_zip(tmp_path_factory):
    out = tmp_path_factory.mktemp("package")
    done = subprocess.run([sys.executable, str(REPO / "scripts" / "package.py"), "--out", str(out)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    version = package.metadata()["version"]
    return out / f"edc-{version}.zip", done.stdout


def test_zip_has_one_edc_folder_with_the_runtime_files_only(plugin_zip):
    path, printed = plugin_zip
    assert "passes the plugin repository's offline checks" in printed
    names = zipfile.ZipFile(path).namelist()
    assert names[0] == "edc/" and all(name.startswith("edc/") for name in names)
    for required in ("metadata.txt", "__init__.py", "edc_plugin.py", "LICENSE", "README.md",
                     "resources/edc_default.onnx", "resources/sample/optical.tif", "resources/sample/sar.tif",
                     "resources/MODEL_CARD.md", "resources/icon.svg", "processing_provider/segment_algorithm.py",
                     "model/inference/__init__.py"):
        assert f"edc/{required}" in names, required
    for name in names:
        parts = name.split("/")
        assert parts[1] not in ("tests", "bench", "scripts", ".build", ".venv", "runs", ".git"), name
        assert "__pycache__" not in parts and not name.endswith((".pyc", ".pyo")), name
        assert not any(part.startswith(".") for part in parts), name
    assert "edc/resources/sample/optical.tif.aux.xml" not in names
    assert "edc/resources/edc_default.pt" not in names  # training copy: not needed to map, over the size limit
    assert package.check(path) == []


def test_zip_metadata_has_what_the_plugin_repository_requires(plugin_zip):
    path, _ = plugin_zip
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str
    parser.read_string(zipfile.ZipFile(path).read("edc/metadata.txt").decode("utf-8"))
    general = parser["general"]
    for key in package.REQUIRED_METADATA:
        assert general.get(key, "").strip(), key
    assert path.name == f"edc-{general['version']}.zip"
    assert path.stat().st_size <= package.MAX_SIZE


def test_check_names_what_the_repository_would_reject(tmp_path):
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as archive:
        archive.writestr("edc/__init__.py", "")
        archive.writestr("edc/metadata.txt", "[general]\nname=x\nauthor=a/b\ntracker=bugs\n")
        archive.writestr("edc/__pycache__/x.cpython-311.pyc", b"\0")
        archive.writestr("edc/lib.so", b"\0")
        archive.writestr("other/README.md", "")
    problems = "\n".join(package.check(bad))
    for expected in ("not one top folder", ".pyc file", "forbidden folder", "unexpected file type: edc/lib.so",
                     "no edc/LICENSE", "metadata.txt lacks version", "author contains a slash",
                     "tracker is not a URL"):
        assert expected in problems


def test_make_install_pip_installs_what_the_plugin_action_installs(tmp_path, monkeypatch):
    """``make install`` (EDC_DEPS=pip) runs the plugin's own installer (python_deps) with PyTorch, from the one set
    of pins, with the Python running it (QGIS's on Debian)."""
    from python_deps import install as installer
    from python_deps import packages

    plans = []
    monkeypatch.setattr(installer, "install", lambda plan, on_line: plans.append(plan) or installer.InstallResult(
        ok=True, dropped=["numpy"]))
    desktop_install.install(tmp_path / "profile", "pip", copy=False)
    (plan,) = plans
    assert plan.python == sys.executable and plan.target == str(tmp_path / "profile" / "python" / "edc_packages")
    assert plan.requirements == packages.requirements(with_torch=True, gpu=packages.nvidia_driver_loads())
    assert "numpy" in plan.keep
    desktop_install.uninstall(tmp_path / "profile")


def test_zip_holds_the_dependency_installer(plugin_zip):
    names = zipfile.ZipFile(plugin_zip[0]).namelist()
    for module in ("__init__", "packages", "interpreter", "pip_command", "target_folder", "install", "task"):
        assert f"edc/python_deps/{module}.py" in names


def test_install_and_uninstall_touch_only_their_own_entries(tmp_path):
    profile = tmp_path / "profile"
    ini = profile / "QGIS" / "QGIS3.ini"
    ini.parent.mkdir(parents=True)
    before = "[General]\nlocale=en\n\n[PythonPlugins]\nprocessing=true\nedc=false\n\n[Qgis]\nx=@Variant(\\0)\n"
    ini.write_text(before)
    desktop_install.install(profile, "none", copy=False)
    assert (profile / "python" / "plugins" / "edc").resolve() == REPO
    assert (profile / "python" / "edc_packages").is_dir()
    text = ini.read_text()
    assert "[PythonPlugins]\nedc=true\nprocessing=true\n" in text and "edc=false" not in text
    assert "x=@Variant(\\0)" in text
    desktop_install.uninstall(profile)
    assert not (profile / "python").exists()
    assert ini.read_text() == before.replace("edc=false\n", "")

    fresh = tmp_path / "fresh"  # no QGIS3.ini yet: install writes only its section, uninstall leaves nothing
    desktop_install.install(fresh, "none", copy=True)
    assert (fresh / "python" / "plugins" / "edc" / "metadata.txt").is_file()
    assert not (fresh / "python" / "plugins" / "edc").is_symlink()
    assert (fresh / "QGIS" / "QGIS3.ini").read_text() == "[PythonPlugins]\nedc=true\n"
    desktop_install.uninstall(fresh)
    assert not fresh.exists()


def test_plugin_puts_the_profiles_edc_packages_first_on_sys_path(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("edc_entry_under_test", REPO / "__init__.py")
    entry = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(entry)
    monkeypatch.setattr(sys, "path", list(sys.path))
    assert entry.add_dependency_folder(str(tmp_path)) is None  # no folder: nothing added
    packages = tmp_path / "python" / "edc_packages"
    (packages / "extra").mkdir(parents=True)
    (packages / "edc-venv.pth").write_text(f"{packages / 'extra'}\n")
    assert entry.add_dependency_folder(str(tmp_path)) == str(packages)
    assert sys.path[:2] == [str(packages), str(packages / "extra")]
