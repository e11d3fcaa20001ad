"""Run inside the real QGIS desktop (``qgis --code``) by test_desktop_install.py: map the sample scene with
edc:segment as a user would from the Python console, let Processing load the output, and write what QGIS shows to
the JSON file named by EDC_DESKTOP_RESULT.  Ends with os._exit(0), so QGIS quits without touching its settings."""

import json
import os
import sys
import time
import traceback

RESULT = os.environ["EDC_DESKTOP_RESULT"]
state = {"ok": False}
try:
    import processing
    from qgis.core import QgsApplication, QgsProject
    from qgis.utils import active_plugins, iface

    sample = os.environ["EDC_DESKTOP_SAMPLE"]
    output = os.environ["EDC_DESKTOP_OUTPUT"]
    state["settings_dir"] = QgsApplication.qgisSettingsDirPath()
    state["plugin_active"] = "edc" in active_plugins
    state["provider"] = QgsApplication.processingRegistry().providerById("edc") is not None
    state["packages_on_path"] = [path for path in sys.path if "edc_packages" in path or ".venv" in path]
    started = time.monotonic()
    results = processing.runAndLoadResults("edc:segment", {
        "OPTICAL": os.path.join(sample, "optical.tif"), "SAR": os.path.join(sample, "sar.tif"),
        "WEIGHTS": os.environ["EDC_DESKTOP_WEIGHTS"], "DEVICE": 1, "OUTPUT": output})
    state["seconds"] = round(time.monotonic() - started, 1)
    QgsApplication.processEvents()
    state["device_used"] = results.get("DEVICE_USED")
    layers = [layer for layer in QgsProject.instance().mapLayers().values()
              if os.path.realpath(layer.source().split("|")[0]) == os.path.realpath(output)]
    state["layers"] = [{"name": layer.name(), "renderer": layer.renderer().type(),
                        "classes": [(c.value, c.label) for c in layer.renderer().classes()]
                        if layer.renderer().type() == "paletted" else []} for layer in layers]
    if iface is not None:
        iface.mapCanvas().refreshAllLayers()
        QgsApplication.processEvents()
        screenshot = os.environ.get("EDC_DESKTOP_SCREENSHOT")
        if screenshot:
            state["screenshot"] = bool(iface.mainWindow().grab().save(screenshot))
    state["ok"] = True
except Exception:  # noqa: BLE001 (everything goes to the JSON for the test to show)
    state["error"] = traceback.format_exc()
with open(RESULT, "w") as file:
    json.dump(state, file, indent=1)
os._exit(0)
