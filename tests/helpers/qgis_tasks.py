"""Helpers shared by the QGIS-layer tests: a feedback that keeps its messages, and running a task with the event
loop turning as the QGIS GUI does."""

import time

from qgis.core import QgsApplication, QgsProcessingAlgRunnerTask, QgsProcessingFeedback
from qgis.PyQt.QtCore import QCoreApplication


class LogFeedback(QgsProcessingFeedback):
    """Processing feedback that records every info and warning message."""

    def __init__(self):
        super().__init__()
        self.messages = []

    def pushInfo(self, info):  # noqa: N802 (QGIS API)
        self.messages.append(info)
        super().pushInfo(info)

    def pushWarning(self, warning):  # noqa: N802
        self.messages.append(warning)
        super().pushWarning(warning)


def run_in_task(alg, parameters, context, feedback, on_done=None, timeout=300):
    """Run ``alg`` in a QgsProcessingAlgRunnerTask through the task manager, turning the event loop until it ends.

    Returns ``(ok, results)``; ``on_done(ok, results)``, when given, runs in the main thread as the GUI's handler would
    and its return value replaces ``ok``.  Also returns the progress values the feedback reported."""
    task = QgsProcessingAlgRunnerTask(alg, parameters, context, feedback)
    done, progress = [], []
    task.executed.connect(lambda ok, results: done.append(
        (on_done(ok, results) if on_done else ok, results)))
    feedback.progressChanged.connect(progress.append)
    QgsApplication.taskManager().addTask(task)
    deadline = time.monotonic() + timeout
    while not done and time.monotonic() < deadline:
        QCoreApplication.processEvents()
        time.sleep(0.01)
    assert done, f"the task did not finish within {timeout} s"
    return done[0][0], done[0][1], progress


def stop_qgis_process_midway(argv, env, parameters, signum):
    """Run ``qgis_process run edc:segment`` with ``parameters`` and send it ``signum`` once its progress passes 10 %;
    (exit status, everything it printed)."""
    import subprocess
    child = subprocess.Popen(argv + ["run", "edc:segment", "--"] + [f"{k}={v}" for k, v in parameters.items()],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen = ""
    for chunk in iter(lambda: child.stdout.read(1), ""):  # qgis_process prints progress as "0...10...20"
        seen += chunk
        if "10..." in seen:
            child.send_signal(signum)
            break
    seen += child.stdout.read()
    child.wait(timeout=120)
    return child.returncode, seen


TRACEBACK_TEXT = ("Traceback", 'File "', "Error:  ")


def segment_fails(parameters, out_dir, *expected, keep=()):
    """Run edc:segment through ``processing.run``, expect a QgsProcessingException whose text contains every
    ``expected`` string (case-folded) and no traceback text, and nothing in ``out_dir`` but the files ``keep`` (no
    partial or temporary file); returns the message."""
    import processing
    import pytest
    from qgis.core import QgsProcessingException

    with pytest.raises(QgsProcessingException) as error:
        processing.run("edc:segment", parameters, feedback=LogFeedback())
    message = str(error.value)
    assert not any(t in message for t in TRACEBACK_TEXT), message
    for text in expected:
        assert text.lower() in message.lower(), message
    assert sorted(p.name for p in out_dir.iterdir()) == sorted(keep), "a failed run left files behind"
    return message
