"""The install path a desktop user takes on Debian/Ubuntu: ``make install`` into a throw-away $HOME, then the real
``qgis`` binary (under Xvfb) loads the plugin from that profile, maps the bundled sample scene with the bundled
weights and shows both *Raster > EDC* entries.  (The install action runs for real in test_install_from_zip.py.)"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
PROFILE = Path(".local/share/QGIS/QGIS3/profiles/default")
# What must not leak from the test process into QGIS: the plugin and packages must come from the profile.
CLEAN = ("QGIS_CUSTOM_CONFIG_PATH", "QGIS_PLUGINPATH", "PYTHONPATH", "QT_QPA_PLATFORM", "DISPLAY", "VIRTUAL_ENV",
         "XDG_CONFIG_HOME", "XDG_DATA_HOME")


def make(target, home, *args):
    env = {key: value for key, value in os.environ.items() if key not in CLEAN}
    env["HOME"] = str(home)
    done = subprocess.run(["make", "-s", "-C", str(REPO), target, *args], env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.mark.slow
def test_make_install_then_real_qgis_desktop_maps_the_sample(tmp_path):
    if shutil.which("qgis") is None:
        pytest.skip("the qgis desktop binary is not installed (Debian package qgis)")
    if shutil.which("xvfb-run") is None:
        pytest.skip("xvfb-run is not installed (Debian package xvfb)")
    if not (REPO / ".venv" / "bin" / "python").is_file():
        pytest.skip("no .venv to take the Python packages from (make setup)")
    home = tmp_path / "home"
    home.mkdir()
    printed = make("install", home, "EDC_DEPS=venv")
    assert "plugin linked" in printed and "edc=true" in printed
    profile = home / PROFILE
    assert (profile / "python/plugins/edc").resolve() == REPO

    result, output, screenshot = tmp_path / "result.json", tmp_path / "out" / "land_cover.tif", tmp_path / "qgis.png"
    dialog = tmp_path / "dialog.png"
    output.parent.mkdir()
    env = {key: value for key, value in os.environ.items() if key not in CLEAN}
    env.update(HOME=str(home), XDG_RUNTIME_DIR=str(tmp_path / "runtime"), EDC_DESKTOP_RESULT=str(result),
               EDC_DESKTOP_OUTPUT=str(output), EDC_DESKTOP_SAMPLE=str(REPO / "resources" / "sample"),
               EDC_DESKTOP_WEIGHTS=str(REPO / "resources" / "edc_default.onnx"),
               EDC_DESKTOP_SCREENSHOT=str(screenshot), EDC_DESKTOP_DIALOG_SCREENSHOT=str(dialog))
    (tmp_path / "runtime").mkdir(mode=0o700)
    script = Path(__file__).with_name("qgis_desktop_script.py")
    command = ["xvfb-run", "-a", "-s", "-screen 0 1280x900x24", "qgis", "--nologo", "--noversioncheck",
               "--code", str(script)]
    try:
        run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, start_new_session=True,
                             check=False)
    except subprocess.TimeoutExpired as error:
        pytest.fail(f"qgis did not finish within 300 s:\n{error.stdout}\n{error.stderr}")
    log = f"qgis exit {run.returncode}\nstdout:\n{run.stdout[-3000:]}\nstderr:\n{run.stderr[-3000:]}"
    assert result.is_file(), log
    state = json.loads(result.read_text())
    assert state["ok"], state.get("error", "") + log
    print(json.dumps(state, indent=1), file=sys.stderr)
    assert Path(state["settings_dir"]).resolve() == profile.resolve()
    assert state["plugin_active"] and state["provider"]
    assert any(str(profile / "python" / "edc_packages") in path for path in state["packages_on_path"])
    assert state["device_used"].startswith("ONNX Runtime")
    assert len(state["layers"]) == 1, state
    layer = state["layers"][0]
    assert layer["renderer"] == "paletted"
    assert [label for _, label in layer["classes"]] == ["background", "flood water"]
    assert output.is_file() and output.stat().st_size > 0
    assert state["menu"] == ["Land cover / flood mapping (EDC)…", "Install Python dependencies…"]
    for png in (screenshot, dialog):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000, png

    make("uninstall", home)
    assert not (profile / "python" / "plugins" / "edc").exists()
    assert not (profile / "python" / "edc_packages").exists()
    ini = profile / "QGIS" / "QGIS3.ini"  # QGIS wrote nothing (os._exit) beyond what install did: now gone or clean
    assert not ini.exists() or "edc=" not in ini.read_text()
