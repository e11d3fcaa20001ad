"""The plugin ZIP (``make package``) installed the way QGIS's *Plugins > Manage and Install Plugins > Install from
ZIP* does it, in the real ``qgis`` desktop under Xvfb with a throw-away $HOME: the plugin loads, a run without
PyTorch names the install action, and with the runtime in the profile's packages folder edc:segment maps the
bundled sample with the bundled weights."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from scripts import package

REPO = Path(__file__).resolve().parents[3]
CLEAN = ("QGIS_CUSTOM_CONFIG_PATH", "QGIS_PLUGINPATH", "PYTHONPATH", "QT_QPA_PLATFORM", "DISPLAY", "VIRTUAL_ENV",
         "XDG_CONFIG_HOME", "XDG_DATA_HOME")


@pytest.mark.slow
def test_install_from_zip_then_map_the_sample(tmp_path):
    for program, debian in (("qgis", "qgis"), ("xvfb-run", "xvfb")):
        if shutil.which(program) is None:
            pytest.skip(f"{program} is not installed (Debian package {debian})")
    venv_python = REPO / ".venv" / "bin" / "python"
    if not venv_python.is_file():
        pytest.skip("no .venv to take PyTorch from (make setup)")
    site = subprocess.run([str(venv_python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    zip_path = package.build(tmp_path / "dist")
    assert package.check(zip_path) == []
    home, out, result = tmp_path / "home", tmp_path / "out", tmp_path / "result.json"
    for folder in (home, out):
        folder.mkdir()
    (tmp_path / "runtime").mkdir(mode=0o700)
    env = {key: value for key, value in os.environ.items() if key not in CLEAN}
    env.update(HOME=str(home), XDG_RUNTIME_DIR=str(tmp_path / "runtime"), EDC_ZIP=str(zip_path),
               EDC_ZIP_OUT=str(out), EDC_ZIP_RESULT=str(result), EDC_ZIP_VENV_SITE=site,
               EDC_ZIP_EXTENT="601600,603520,5096800,5098720 [EPSG:32633]")  # 192 x 192 px inside the 512 x 512 sample
    command = ["xvfb-run", "-a", "-s", "-screen 0 1280x900x24", "qgis", "--nologo", "--noversioncheck", "--code",
               str(Path(__file__).with_name("qgis_zip_script.py"))]
    try:
        run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240, start_new_session=True,
                             check=False)
    except subprocess.TimeoutExpired as error:
        pytest.fail(f"qgis did not finish within 240 s:\n{error.stdout}\n{error.stderr}")
    log = f"qgis exit {run.returncode}\nstdout:\n{run.stdout[-3000:]}\nstderr:\n{run.stderr[-3000:]}"
    assert result.is_file(), log
    state = json.loads(result.read_text())
    assert state["ok"], state.get("error", "") + log
    print(json.dumps(state, indent=1), file=sys.stderr)
    profile = home / ".local/share/QGIS/QGIS3/profiles/default"
    assert Path(state["plugin_folder"]).resolve() == (profile / "python/plugins/edc").resolve()
    assert not state["before"] and state["active"] and state["provider"] and not state["is_link"]
    assert (profile / "python/plugins/edc/resources/edc_default.pt").is_file()
    assert not state["torch_importable"]
    assert "PyTorch is needed" in state["without_runtime"]
    assert "Raster > EDC > Install Python dependencies…" in state["without_runtime"]
    assert state["left_after_failure"] == []
    assert state["device_used"].startswith("PyTorch")
    stats = json.loads(state["class_stats"])
    assert [row["name"] for row in stats] == ["background", "flood water"], stats
    assert sum(row["pixels"] for row in stats) == 192 * 192 and stats[1]["pixels"] > 1000, stats
    assert Path(state["output"]).is_file()
