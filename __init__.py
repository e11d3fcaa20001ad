"""EDC for QGIS: land cover and flood mapping from optical + SAR rasters (QGIS plugin entry point)."""

import os
import site
import sys

PACKAGES_FOLDER = "edc_packages"


def add_dependency_folder(settings_dir=None):
    """Put <QGIS profile>/python/edc_packages (where ``make install`` puts PyTorch, ONNX Runtime, ...) first on
    ``sys.path``, with the ``.pth`` files in it; nothing when the folder does not exist.  Returns the folder or None."""
    if settings_dir is None:
        try:
            from qgis.core import QgsApplication
            settings_dir = QgsApplication.qgisSettingsDirPath()
        except Exception:  # noqa: BLE001 (no QGIS, or no application yet: nothing to add)
            return None
    folder = os.path.join(settings_dir, "python", PACKAGES_FOLDER)
    if not settings_dir or not os.path.isdir(folder):
        return None
    before = list(sys.path)
    site.addsitedir(folder)  # appends the folder and what its .pth files name ...
    added = [path for path in sys.path if path not in before]
    sys.path[:] = added + before  # ... moved to the front, as a virtual environment's packages would be
    return folder


def classFactory(iface):  # noqa: N802 (QGIS API)
    add_dependency_folder()
    from .edc_plugin import EDCPlugin
    return EDCPlugin(iface)
