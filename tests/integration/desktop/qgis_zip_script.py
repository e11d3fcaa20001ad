"""Run inside the real QGIS desktop (``qgis --code``) by test_install_from_zip.py, as a user new to the plugin: install
the plugin ZIP named by EDC_ZIP with the Plugin Manager's own *Install from ZIP* code (pyplugin_installer's
installFromZipFile); map EDC_ZIP_EXTENT of the bundled sample with the bundled weights, which fails without ONNX
Runtime with a message naming the install action; run that action's task as the action does after its question
(ONNX Runtime, no PyTorch: pip into the profile's edc_packages); map again.  Writes what it saw to EDC_ZIP_RESULT as
JSON; ends with os._exit(0), so QGIS quits without touching its settings."""

import json
import os
import time
import traceback

state = {"ok": False}


def wait_for_install(plugin, timeout=300):
    """Start the install task as the menu action does after its question and turn the event loop until it is done."""
    from qgis.core import QgsApplication
    from qgis.utils import iface
    outcome = {}
    task = plugin.start_install(with_torch=False, gpu=False)
    task.done.connect(lambda result, restart: outcome.update(ok=result.ok, installed=result.installed,
                                                             dropped=result.dropped, error=result.error,
                                                             restart=restart, python=task.plan.python))
    deadline = time.monotonic() + timeout
    while plugin.install_task is not None and time.monotonic() < deadline:
        QgsApplication.processEvents()
        time.sleep(0.05)
    QgsApplication.processEvents()
    outcome["bar"] = [item.text() for item in iface.messageBar().items()]
    return outcome


try:
    import importlib.util

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
    state["onnxruntime_before"] = importlib.util.find_spec("onnxruntime") is not None
    sample = os.path.join(folder, "resources", "sample")
    parameters = {"OPTICAL": os.path.join(sample, "optical.tif"), "SAR": os.path.join(sample, "sar.tif"),
                  "DEVICE": 1, "OUTPUT": os.path.join(out, "land_cover.tif"), "EXTENT": os.environ["EDC_ZIP_EXTENT"]}
    try:
        processing.run("edc:segment", parameters)
        state["without_runtime"] = "ran"
    except QgsProcessingException as error:
        state["without_runtime"] = str(error)
    state["left_after_failure"] = sorted(os.listdir(out))
    state["install"] = wait_for_install(plugins["edc"])
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
