"""QGIS plugin entry: registers the ``edc`` Processing provider and adds a toolbar button and two Raster-menu entries
(the edc:segment dialog, and the installer of the Python packages EDC runs on)."""

import os

from qgis.core import Qgis, QgsApplication
from qgis.PyQt.QtGui import QIcon
from qgis.PyQt.QtWidgets import QAction, QCheckBox, QMessageBox

from . import PACKAGES_FOLDER, add_dependency_folder
from .model.vocabulary import INSTALL_ACTION
from .processing_provider.common import DEFAULT_WEIGHTS
from .processing_provider.provider import EDCProvider

MENU = "&EDC"
ALGORITHM_ID = "edc:segment"


class EDCPlugin:
    def __init__(self, iface):
        self.iface = iface
        self.provider = None
        self.action = None
        self.install_action = None
        self.install_task = None
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
        self.install_action = QAction(INSTALL_ACTION, self.iface.mainWindow())
        self.install_action.setObjectName("edcInstallDependenciesAction")
        self.install_action.setToolTip("Install ONNX Runtime (and optionally PyTorch) into QGIS's Python with pip")
        self.install_action.triggered.connect(self.ask_and_install)
        self.iface.addPluginToRasterMenu(MENU, self.install_action)
        self.toolbar = self.iface.addToolBar("EDC")
        self.toolbar.setObjectName("edcToolbar")
        self.toolbar.addAction(self.action)

    def open_dialog(self):
        """Open the Processing dialog of edc:segment; it runs the algorithm as a background task."""
        import processing
        processing.execAlgorithmDialog(ALGORITHM_ID, {})

    def packages_folder(self):
        """<profile>/python/edc_packages, which __init__.py puts on sys.path."""
        return os.path.join(QgsApplication.qgisSettingsDirPath(), "python", PACKAGES_FOLDER)

    def ask_and_install(self):
        """The menu action: ask which packages (only now, never at plugin load), then install them in the
        background."""
        box = QMessageBox(QMessageBox.Question, "EDC: install Python dependencies",
                          "Install ONNX Runtime (onnxruntime, or onnxruntime-gpu where an NVIDIA driver is found), "
                          "which edc:segment needs for .onnx weights, with pip into\n"
                          f"{self.packages_folder()}\n\nThis downloads packages and runs in the background "
                          "(Task Manager; pip's output goes to the log, tag EDC).",
                          QMessageBox.Ok | QMessageBox.Cancel, self.iface.mainWindow())
        box.button(QMessageBox.Ok).setText("Install")
        torch = QCheckBox("Also PyTorch (for training and .pt weights such as the bundled default; a large download)")
        torch.setChecked(DEFAULT_WEIGHTS.lower().endswith((".pt", ".pth")))
        box.setCheckBox(torch)
        if box.exec_() == QMessageBox.Ok:
            self.start_install(with_torch=torch.isChecked())

    def start_install(self, with_torch, gpu=None):
        """Start the install task (ONNX Runtime, plus PyTorch when ``with_torch``; the GPU build of ONNX Runtime
        where ``gpu``, by default where an NVIDIA driver loads) and return it; None while one is running."""
        from .python_deps.install import make_plan
        from .python_deps.task import InstallTask

        if self.install_task is not None:
            self.iface.messageBar().pushMessage("EDC", "The Python dependencies are being installed already; see the "
                                                "Task Manager.", Qgis.Info, 5)
            return None
        self.install_task = InstallTask(make_plan(self.packages_folder(), with_torch, gpu=gpu))
        self.install_task.done.connect(self._installed)
        QgsApplication.taskManager().addTask(self.install_task)
        return self.install_task

    def _installed(self, result, restart):
        self.install_task = None
        bar = self.iface.messageBar()
        if result.ok:
            add_dependency_folder()
            then = ("Restart QGIS to use them: an older copy is loaded already." if restart
                    else "edc:segment can use them now.")
            bar.pushMessage("EDC", f"Installed {', '.join(result.installed) or 'nothing new'} into "
                            f"{self.packages_folder()}. {then}", Qgis.Success, 0)
        elif result.cancelled:
            bar.pushMessage("EDC", "Installing the Python dependencies was cancelled; nothing was changed.",
                            Qgis.Info, 10)
        else:
            bar.pushMessage("EDC", f"Installing the Python dependencies failed: {result.error}. Log: {result.log}",
                            Qgis.Critical, 0)

    def unload(self):
        for action in (self.action, self.install_action):
            if action is not None:
                self.iface.removePluginRasterMenu(MENU, action)
                action.deleteLater()
        self.action = self.install_action = None
        if self.install_task is not None:
            self.install_task.done.disconnect(self._installed)
            self.install_task.cancel()
            self.install_task = None
        if self.toolbar is not None:
            self.toolbar.deleteLater()
            self.toolbar = None
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
