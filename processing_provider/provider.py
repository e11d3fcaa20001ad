"""The ``edc`` Processing provider."""

import os

from qgis.core import Qgis, QgsMessageLog, QgsProcessingProvider
from qgis.PyQt.QtGui import QIcon

from .segment_algorithm import PLUGIN_DIR, SegmentAlgorithm


def _optional_algorithms():
    """Algorithms from modules that may not be installed yet (training)."""
    try:
        from .train_algorithm import TrainAlgorithm
    except ImportError as exc:  # not installed, or a dependency of it is missing: edc:segment still works
        if getattr(exc, "name", None) != f"{__package__}.train_algorithm":
            QgsMessageLog.logMessage(f"edc:train is unavailable: {exc}", "EDC", Qgis.Warning)
        return []
    return [TrainAlgorithm()]


class EDCProvider(QgsProcessingProvider):
    def id(self):
        return "edc"

    def name(self):
        return "EDC"

    def longName(self):  # noqa: N802 (QGIS API)
        return "EDC land cover and flood mapping (optical + SAR)"

    def icon(self):
        return QIcon(os.path.join(PLUGIN_DIR, "resources", "icon.svg"))

    def supportedOutputRasterLayerExtensions(self):  # noqa: N802
        return ["tif"]

    def loadAlgorithms(self):  # noqa: N802
        for algorithm in [SegmentAlgorithm(), *_optional_algorithms()]:
            self.addAlgorithm(algorithm)
