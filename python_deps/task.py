"""The background task behind *Raster > EDC > Install Python dependencies…*: ``install.install`` in a QgsTask, with
pip's output in the QGIS message log (tag "EDC") and the log file, its progress on the task, and cancel stopping
pip.  ``done`` is emitted in the main thread with the InstallResult and whether QGIS must restart."""

import importlib
import sys

from qgis.core import Qgis, QgsMessageLog, QgsTask
from qgis.PyQt.QtCore import pyqtSignal

from .install import InstallResult, install, module_names
from .pip_command import PipProgress

LOG_TAG = "EDC"


class InstallTask(QgsTask):
    done = pyqtSignal(object, bool)  # InstallResult, restart needed

    def __init__(self, plan):
        super().__init__("EDC: installing Python dependencies", QgsTask.CanCancel)
        self.plan = plan
        self.process = None
        self.result = InstallResult()
        self.step = ""
        self._progress = PipProgress()

    def run(self):
        try:
            self.result = install(self.plan, self._line, self.isCanceled, self._started)
        except Exception as exc:  # noqa: BLE001 (a file-system or process error: reported, never raised in QGIS)
            self.result = InstallResult(error=f"{type(exc).__name__}: {exc}")
        return self.result.ok

    def _started(self, process):
        self.process = process
        if self.isCanceled():
            process.terminate()

    def _line(self, line):
        QgsMessageLog.logMessage(line, LOG_TAG, Qgis.Info)
        step = self._progress.feed(line)
        if step:
            self.step = step[1]
            self.setProgress(step[0])

    def cancel(self):
        process = self.process
        if process is not None and process.poll() is None:
            process.terminate()
        super().cancel()

    def finished(self, ok):  # noqa: D401 (QGIS API; main thread)
        restart = False
        if ok:
            importlib.invalidate_caches()
            restart = any(sys.modules.get(name) is not None for name in module_names(self.plan.requirements))
        level = Qgis.Info if ok else Qgis.Warning
        what = "installed " + " ".join(self.result.installed) if ok else self.result.error
        QgsMessageLog.logMessage(f"Python dependencies: {what} (log: {self.result.log})", LOG_TAG, level)
        self.done.emit(self.result, restart)
