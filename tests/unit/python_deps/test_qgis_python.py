"""Finding the interpreter of the running QGIS (python_deps/interpreter.py) in fake Windows, macOS and Linux
layouts: the fake interpreters are scripts that print the version they would be."""

import sys

import pytest

from python_deps.interpreter import candidates, find_python, python_version


def fake_python(path, version="3 9"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\necho {version}\n")
    path.chmod(0o755)
    return path


def fake_qgis(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("not python\n")
    return path


def test_osgeo4w_windows_finds_the_apps_python_not_qgis_bin(tmp_path):
    root = tmp_path / "OSGeo4W"
    qgis = fake_qgis(root / "bin" / "qgis-bin.exe")
    python = fake_python(root / "apps" / "Python39" / "python.exe")
    prefix = str(root / "apps" / "Python39")
    assert find_python(str(qgis), prefix, prefix, "win32", (3, 9)) == str(python)


def test_windows_standalone_with_python3_beside_qgis(tmp_path):
    root = tmp_path / "QGIS 3.22"
    qgis = fake_qgis(root / "bin" / "qgis-bin.exe")
    python = fake_python(root / "bin" / "python3.exe")
    missing = str(tmp_path / "nowhere")
    assert find_python(str(qgis), missing, missing, "win32", (3, 9)) == str(python)


def test_windows_apps_folder_found_from_the_bin_folder_alone(tmp_path):
    root = tmp_path / "OSGeo4W"
    qgis = fake_qgis(root / "bin" / "qgis-bin.exe")
    python = fake_python(root / "apps" / "Python312" / "python.exe", "3 12")
    fake_python(root / "apps" / "Python39" / "python.exe")  # another version lying around: not it
    missing = str(tmp_path / "nowhere")
    assert find_python(str(qgis), missing, missing, "win32", (3, 12)) == str(python)


def test_pythonw_prefers_its_console_twin(tmp_path):
    pythonw = fake_python(tmp_path / "pythonw.exe")
    python = fake_python(tmp_path / "python.exe")
    assert candidates(str(pythonw), str(tmp_path), str(tmp_path), "win32", (3, 9))[0] == str(python)


def test_macos_bundle_finds_contents_macos_bin_python3(tmp_path):
    contents = tmp_path / "QGIS.app" / "Contents"
    qgis = fake_qgis(contents / "MacOS" / "QGIS")
    python = fake_python(contents / "MacOS" / "bin" / "python3")
    prefix = str(contents / "Frameworks" / "Python.framework" / "Versions" / "3.9")
    assert find_python(str(qgis), prefix, prefix, "darwin", (3, 9)) == str(python)


def test_macos_framework_python_under_sys_prefix(tmp_path):
    contents = tmp_path / "QGIS.app" / "Contents"
    qgis = fake_qgis(contents / "MacOS" / "QGIS")
    prefix = contents / "Frameworks" / "Python.framework" / "Versions" / "3.9"
    python = fake_python(prefix / "bin" / "python3.9")
    assert find_python(str(qgis), str(prefix), str(prefix), "darwin", (3, 9)) == str(python)


def test_linux_skips_a_pyenv_shim_that_is_another_python(tmp_path):
    """What Debian's QGIS reports as sys.executable when a pyenv shim comes first on PATH."""
    shim = fake_python(tmp_path / "pyenv" / "shims" / "python3", "3 12")
    python = fake_python(tmp_path / "usr" / "bin" / "python3.11", "3 11")
    prefix = str(tmp_path / "usr")
    assert candidates(str(shim), prefix, prefix, "linux", (3, 11))[-1] == str(shim)  # looked at last
    assert find_python(str(shim), prefix, prefix, "linux", (3, 11)) == str(python)
    python.unlink()
    assert find_python(str(shim), prefix, prefix, "linux", (3, 11)) is None  # the shim alone: wrong version


def test_nothing_found_is_none(tmp_path):
    qgis = fake_qgis(tmp_path / "bin" / "qgis-bin.exe")
    assert find_python(str(qgis), str(tmp_path), str(tmp_path), "win32", (3, 9)) is None
    assert python_version(str(qgis)) is None  # not executable


def test_this_python_is_found_and_reports_its_version():
    found = find_python()
    assert found is not None
    assert python_version(found) == tuple(sys.version_info[:2])


@pytest.mark.parametrize("platform", ["win32", "darwin", "linux"])
def test_candidates_have_no_duplicates(platform):
    listed = candidates("/x/bin/python3", "/x", "/x", platform, (3, 11))
    assert len(listed) == len(set(listed)) and listed
