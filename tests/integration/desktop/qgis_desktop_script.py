"""Run inside the real QGIS desktop (``qgis --code``) by test_desktop_install.py and scripts/screenshots.py: map the
sample scene with edc:segment as a user would from the Python console, let Processing load the output, grab the
main window and the edc:segment dialog (EDC_DESKTOP_SCREENSHOT, EDC_DESKTOP_DIALOG_SCREENSHOT), look for the
*Raster > EDC* menu entries, and write what QGIS shows to the JSON file named by EDC_DESKTOP_RESULT.  Ends with
os._exit(0), so QGIS quits without touching its settings."""

import json
import os
import sys
import time
import traceback


def menu_entries(iface):
    """Texts of the actions in Raster > EDC."""
    for action in iface.rasterMenu().actions():
        if action.menu() is not None and action.text().replace("&", "") == "EDC":
            return [entry.text() for entry in action.menu().actions()]
    return []


def grab_dialog(path, optical, sar):
    """Open the edc:segment dialog as the toolbar button does (not modal here) with the two input layers chosen,
    grab it, close it."""
    from processing import createAlgorithmDialog
    from qgis.core import QgsApplication
    dialog = createAlgorithmDialog("edc:segment", {"OPTICAL": optical, "SAR": sar})
    dialog.resize(1000, 720)
    dialog.show()
    for _ in range(20):
        QgsApplication.processEvents()
        time.sleep(0.05)
    saved = bool(dialog.grab().save(path))
    dialog.close()
    return saved


RESULT = os.environ["EDC_DESKTOP_RESULT"]
state = {"ok": False}
try:
    import processing
    from qgis.core import QgsApplication, QgsProject, QgsRasterLayer
    from qgis.utils import active_plugins, iface

    sample = os.environ["EDC_DESKTOP_SAMPLE"]
    output = os.environ["EDC_DESKTOP_OUTPUT"]
    state["settings_dir"] = QgsApplication.qgisSettingsDirPath()
    state["plugin_active"] = "edc" in active_plugins
    state["provider"] = QgsApplication.processingRegistry().providerById("edc") is not None
    state["packages_on_path"] = [path for path in sys.path if "edc_packages" in path or ".venv" in path]
    inputs = [QgsRasterLayer(os.path.join(sample, f"{name}.tif"), title) for name, title in
              (("sar", "SAR (VV, dB)"), ("optical", "Optical (B11, B8, B3)"))]
    for layer in inputs:  # the inputs in the map, as a user has them before opening the dialog
        QgsProject.instance().addMapLayer(layer)
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
        state["menu"] = menu_entries(iface)
        iface.setActiveLayer(QgsProject.instance().mapLayersByName(state["layers"][0]["name"])[0])
        iface.zoomToActiveLayer()
        iface.mapCanvas().refreshAllLayers()
        for _ in range(40):  # let the canvas render
            QgsApplication.processEvents()
            time.sleep(0.05)
        screenshot = os.environ.get("EDC_DESKTOP_SCREENSHOT")
        if screenshot:
            state["screenshot"] = bool(iface.mainWindow().grab().save(screenshot))
        dialog_screenshot = os.environ.get("EDC_DESKTOP_DIALOG_SCREENSHOT")
        if dialog_screenshot:
            state["dialog_screenshot"] = grab_dialog(dialog_screenshot, inputs[1].id(), inputs[0].id())
    state["ok"] = True
except Exception:  # noqa: BLE001 (everything goes to the JSON for the test to show)
    state["error"] = traceback.format_exc()
with open(RESULT, "w") as file:
    json.dump(state, file, indent=1)
os._exit(0)
