"""The background task of *Raster > EDC > Install Python dependencies…* for real: pip installs into a throw-away
packages folder through QGIS's task manager, with progress, the EDC message log and the log file; cancel stops pip
and changes nothing.  The real ONNX Runtime set is installed by the desktop test (tests/integration/desktop)."""

import os
import subprocess
import sys
import time

import pytest
from qgis.core import QgsApplication
from qgis.PyQt.QtCore import QCoreApplication

SMALL = "tqdm==4.70.1"


def plan_for(target, requirements):
    from edc.python_deps.install import InstallPlan, make_plan
    plan = make_plan(target, with_torch=False, gpu=False)
    return InstallPlan(plan.python, plan.target, requirements, plan.constraints, plan.keep)


def run_task(task, timeout=240, cancel_after_lines=None):
    """Start ``task`` in the task manager and turn the event loop until it emits ``done``; returns
    (result, restart, progress values, EDC log messages)."""
    done, progress, messages = [], [], []
    task.done.connect(lambda result, restart: done.append((result, restart)))
    task.progressChanged.connect(progress.append)

    def logged(message, tag, level):
        if tag == "EDC":
            messages.append(message)
    QgsApplication.messageLog().messageReceived.connect(logged)
    QgsApplication.taskManager().addTask(task)
    deadline = time.monotonic() + timeout
    try:
        while not done and time.monotonic() < deadline:
            QCoreApplication.processEvents()
            if cancel_after_lines is not None and len(messages) >= cancel_after_lines and not task.isCanceled():
                task.cancel()
            time.sleep(0.01)
    finally:
        QgsApplication.messageLog().messageReceived.disconnect(logged)
    assert done, f"the install task did not finish within {timeout} s"
    return done[0][0], done[0][1], progress, messages


def imports_from(folder, module):
    done = subprocess.run([sys.executable, "-S", "-c", f"import sys; sys.path.insert(0, {str(folder)!r}); "
                           f"import {module}; print({module}.__file__)"], capture_output=True, text=True, timeout=60)
    return done.stdout.strip() if done.returncode == 0 else done.stderr


@pytest.mark.slow
def test_task_installs_with_progress_and_log(edc, qgis_app, tmp_path):
    from edc.python_deps.task import InstallTask

    target = tmp_path / "profile" / "python" / "edc_packages"
    result, restart, progress, messages = run_task(InstallTask(plan_for(target, [SMALL])))
    assert result.ok, result.error
    assert result.installed == ["tqdm-4.70.1"] and restart == ("tqdm" in sys.modules)
    assert progress and progress[-1] == 100 and progress == sorted(progress)
    assert any(m.startswith("Successfully installed tqdm-4.70.1") for m in messages)
    assert any(m.startswith("Python dependencies: installed tqdm-4.70.1") for m in messages)
    assert imports_from(target, "tqdm").startswith(str(target / "tqdm"))
    log = (target / "edc-install.log").read_text()
    assert "-m pip install --target" in log and "Successfully installed tqdm-4.70.1" in log
    assert sorted(os.listdir(target.parent)) == ["edc_packages"]  # no staging folder or constraints file left


@pytest.mark.slow
def test_cancel_stops_pip_and_changes_nothing(edc, qgis_app, tmp_path):
    from edc.python_deps.task import InstallTask

    target = tmp_path / "edc_packages"
    target.mkdir()
    (target / "keep.py").write_text("x = 1\n")
    task = InstallTask(plan_for(target, ["onnxruntime==1.31.1", SMALL]))
    result, _, _, _ = run_task(task, cancel_after_lines=1)
    assert result.cancelled and not result.ok
    assert task.process.poll() is not None  # pip ended
    assert sorted(os.listdir(target)) == ["edc-install.log", "keep.py"]
    assert sorted(os.listdir(tmp_path)) == ["edc_packages"]
