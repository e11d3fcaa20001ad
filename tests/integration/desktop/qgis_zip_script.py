"""Run inside the real QGIS desktop (``qgis --code``) by test_install_from_zip.py: install the plugin ZIP named by
EDC_ZIP with the Plugin Manager's own *Install from ZIP* code (pyplugin_installer's installFromZipFile), then map
EDC_ZIP_EXTENT of the bundled sample with the bundled weights twice: first with no PyTorch anywhere (the message must
name the menu action), then after the packages folder got what the install action would have put there (here: a .pth
naming the developers' venv, EDC_ZIP_VENV_SITE) and the plugin added it to sys.path as the action does on success.
Writes what it saw to EDC_ZIP_RESULT as JSON; ends with os._exit(0)."""

import json
import os
import traceback

state = {"ok": False}
try:
    import importlib
    import sys

    import processing
    import pyplugin_installer
    from qgis.core import QgsApplication, QgsProcessingException
    from qgis.utils import active_plugins, home_plugin_path, plugins

    zip_path, out = os.environ["EDC_ZIP"], os.environ["EDC_ZIP_OUT"]
    state["before"] = "edc" in active_plugins
    pyplugin_installer.instance().installFromZipFile(zip_path)
    folder = os.path.join(home_plugin_path, "edc")
    state["plugin_folder"] = folder
    state["is_link"] = os.path.islink(folder)
    state["active"] = "edc" in active_plugins
    state["provider"] = QgsApplication.processingRegistry().providerById("edc") is not None
    state["torch_importable"] = importlib.util.find_spec("torch") is not None
    sample = os.path.join(folder, "resources", "sample")
    parameters = {"OPTICAL": os.path.join(sample, "optical.tif"), "SAR": os.path.join(sample, "sar.tif"),
                  "DEVICE": 1, "OUTPUT": os.path.join(out, "land_cover.tif"),
                  "EXTENT": os.environ["EDC_ZIP_EXTENT"]}  # part of the sample: the desktop test maps all of it
    try:
        processing.run("edc:segment", parameters)
        state["without_runtime"] = "ran"
    except QgsProcessingException as error:
        state["without_runtime"] = str(error)
    state["left_after_failure"] = sorted(os.listdir(out))

    packages = os.path.join(QgsApplication.qgisSettingsDirPath(), "python", "edc_packages")
    os.makedirs(packages, exist_ok=True)
    with open(os.path.join(packages, "edc-venv.pth"), "w") as file:
        file.write(os.environ["EDC_ZIP_VENV_SITE"] + "\n")
    sys.modules[type(plugins["edc"]).__module__.split(".")[0]].add_dependency_folder()
    importlib.invalidate_caches()
    results = processing.run("edc:segment", parameters)
    state["device_used"] = results["DEVICE_USED"]
    state["class_stats"] = results["CLASS_STATS"]
    state["output"] = results["OUTPUT"]
    state["ok"] = True
except Exception:  # noqa: BLE001 (everything goes to the JSON for the test to show)
    state["error"] = traceback.format_exc()
with open(os.environ["EDC_ZIP_RESULT"], "w") as file:
    json.dump(state, file, indent=1)
os._exit(0)
