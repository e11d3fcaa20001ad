"""QGIS plugin entry: registers the ``edc`` Processing provider and adds a toolbar button and a Raster-menu entry."""

import os

from qgis.core import QgsApplication
from qgis.PyQt.QtGui import QIcon
from qgis.PyQt.QtWidgets import QAction

from .processing_provider.provider import EDCProvider

MENU = "&EDC"
ALGORITHM_ID = "edc:segment"


class EDCPlugin:
    def __init__(self, iface):
        self.iface = iface
        self.provider = None
        self.action = None
        self.toolbar = None

    def initProcessing(self):  # noqa: N802 (QGIS API)
        """Called by QGIS (also by qgis_process) because metadata.txt says hasProcessingProvider=yes."""
        if self.provider is None:
            self.provider = EDCProvider()
            QgsApplication.processingRegistry().addProvider(self.provider)

    def initGui(self):  # noqa: N802
        self.initProcessing()
        icon = QIcon(os.path.join(os.path.dirname(__file__), "resources", "segment.svg"))
        self.action = QAction(icon, "Land cover / flood mapping (EDC)…", self.iface.mainWindow())
        self.action.setObjectName("edcSegmentAction")
        self.action.setToolTip("Map land cover and flood water from an optical + SAR raster pair (edc:segment)")
        self.action.triggered.connect(self.open_dialog)
        self.iface.addPluginToRasterMenu(MENU, self.action)
        self.toolbar = self.iface.addToolBar("EDC")
        self.toolbar.setObjectName("edcToolbar")
        self.toolbar.addAction(self.action)

    def open_dialog(self):
        """Open the Processing dialog of edc:segment; it runs the algorithm as a background task."""
        import processing
        processing.execAlgorithmDialog(ALGORITHM_ID, {})

    def unload(self):
        if self.action is not None:
            self.iface.removePluginRasterMenu(MENU, self.action)
            self.action.deleteLater()
            self.action = None
        if self.toolbar is not None:
            self.toolbar.deleteLater()
            self.toolbar = None
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
