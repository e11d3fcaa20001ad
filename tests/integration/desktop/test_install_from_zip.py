"""What a new user does, in the real ``qgis`` desktop under Xvfb with a throw-away $HOME: install the plugin ZIP
(``make package``) the way *Plugins > Manage and Install Plugins > Install from ZIP* does it; a first run stops with a
message naming *Raster > EDC > Install Python dependencies…*; that action's task installs ONNX Runtime with QGIS's own
interpreter into the profile's packages folder; edc:segment then maps (part of) the bundled sample with the bundled
weights without a restart."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from python_deps.interpreter import python_version
from scripts import package

CLEAN = ("QGIS_CUSTOM_CONFIG_PATH", "QGIS_PLUGINPATH", "PYTHONPATH", "QT_QPA_PLATFORM", "DISPLAY", "VIRTUAL_ENV",
         "XDG_CONFIG_HOME", "XDG_DATA_HOME")
SIDE = 192  # pixels of the sample mapped (the desktop test maps all 512 x 512)


@pytest.mark.slow
def test_install_from_zip_then_the_install_action_then_map_the_sample(tmp_path):
    for program, debian in (("qgis", "qgis"), ("xvfb-run", "xvfb")):
        if shutil.which(program) is None:
            pytest.skip(f"{program} is not installed (Debian package {debian})")
    zip_path = package.build(tmp_path / "dist")
    assert package.check(zip_path) == []
    home, out, result = tmp_path / "home", tmp_path / "out", tmp_path / "result.json"
    for folder in (home, out):
        folder.mkdir()
    (tmp_path / "runtime").mkdir(mode=0o700)
    env = {key: value for key, value in os.environ.items() if key not in CLEAN}
    env.update(HOME=str(home), XDG_RUNTIME_DIR=str(tmp_path / "runtime"), EDC_ZIP=str(zip_path),
               EDC_ZIP_OUT=str(out), EDC_ZIP_RESULT=str(result),
               EDC_ZIP_EXTENT=f"601600,{601600 + 10 * SIDE},5096800,{5096800 + 10 * SIDE} [EPSG:32633]")
    command = ["xvfb-run", "-a", "-s", "-screen 0 1280x900x24", "qgis", "--nologo", "--noversioncheck", "--code",
               str(Path(__file__).with_name("qgis_zip_script.py"))]
    try:
        run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=400, start_new_session=True,
                             check=False)
    except subprocess.TimeoutExpired as error:
        pytest.fail(f"qgis did not finish within 400 s:\n{error.stdout}\n{error.stderr}")
    log = f"qgis exit {run.returncode}\nstdout:\n{run.stdout[-3000:]}\nstderr:\n{run.stderr[-3000:]}"
    assert result.is_file(), log
    state = json.loads(result.read_text())
    assert state["ok"], state.get("error", "") + log
    print(json.dumps(state, indent=1), file=sys.stderr)
    profile = home / ".local/share/QGIS/QGIS3/profiles/default"
    assert Path(state["plugin_folder"]).resolve() == (profile / "python/plugins/edc").resolve()
    assert not state["before"] and state["active"] and state["provider"] and not state["is_link"]

    assert not state["onnxruntime_before"]  # QGIS's Python as Debian ships it
    assert "ONNX Runtime is needed" in state["without_runtime"]
    assert "Raster > EDC > Install Python dependencies…" in state["without_runtime"]
    assert state["left_after_failure"] == []

    install = state["install"]
    assert install["ok"], install
    assert "onnxruntime-1.31.1" in install["installed"] and "numpy" in install["dropped"]
    assert not any(name.startswith(("numpy", "torch")) for name in install["installed"])
    assert python_version(install["python"]) == sys.version_info[:2]  # QGIS's interpreter, not a PATH guess
    assert not install["restart"]
    assert any("Installed" in text and "can use them now" in text for text in install["bar"]), install["bar"]
    packages = profile / "python" / "edc_packages"
    assert (packages / "onnxruntime" / "__init__.py").is_file() and not (packages / "numpy").exists()

    assert state["device_used"].startswith("ONNX Runtime")
    stats = json.loads(state["class_stats"])
    assert [row["name"] for row in stats] == ["background", "flood water"], stats
    assert sum(row["pixels"] for row in stats) == SIDE * SIDE and stats[1]["pixels"] > 1000, stats
    assert Path(state["output"]).is_file()
