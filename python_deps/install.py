"""One install of EDC's packages for QGIS, without QGIS: pip into a staging folder beside the target, its output
line by line to a log file and a callback, then (only when pip succeeded) the packages QGIS already has dropped and
the rest merged into the target.  The plugin's background task and ``make install`` both run this."""

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field

from . import packages
from .interpreter import NO_WINDOW, find_python
from .pip_command import last_error, pip_command
from .target_folder import LOG_NAME, drop_distributions, merge, normalized, remove, staging_folder


# pip settings a user may have in the environment that contradict ``--target`` outside a virtual environment.
PIP_SETTINGS_IN_THE_WAY = ("PIP_TARGET", "PIP_USER", "PIP_PREFIX", "PIP_REQUIRE_VIRTUALENV")


@dataclass
class InstallPlan:
    python: str            # the interpreter pip runs with (QGIS's own)
    target: str            # <profile>/python/edc_packages
    requirements: list     # pinned requirements
    constraints: list      # pip constraint lines (QGIS's NumPy etc. at their versions)
    keep: list             # distributions QGIS's Python has: removed from what pip unpacked


@dataclass
class InstallResult:
    ok: bool = False
    cancelled: bool = False
    error: str = ""
    installed: list = field(default_factory=list)   # "name-version" as pip reports them, less those dropped
    dropped: list = field(default_factory=list)     # distributions left to QGIS's Python
    log: str = ""


def make_plan(target, with_torch, python=None, gpu=None):
    """The plan for ``target``: ONNX Runtime (GPU build where an NVIDIA driver loads), PyTorch when ``with_torch``,
    run by QGIS's interpreter (found when not given; ``''`` when none is, which ``install`` reports)."""
    own = packages.qgis_own_versions()
    gpu = packages.nvidia_driver_loads() if gpu is None else gpu
    return InstallPlan(python=python or find_python() or "", target=os.fspath(target),
                       requirements=packages.requirements(with_torch, gpu), constraints=packages.constraints(own),
                       keep=[name for name, version in own.items() if version])


def module_names(requirements):
    """The modules the requirements provide (``onnxruntime-gpu==1.31.1`` -> ``onnxruntime``)."""
    names = [requirement.split("==")[0].split("<")[0].strip().lower() for requirement in requirements]
    return [name.removesuffix("-gpu").replace("-", "_") for name in names]


def install(plan, on_line=print, cancelled=lambda: False, started=lambda process: None):
    """Run ``plan``; ``on_line(text)`` gets every line pip prints, ``started(process)`` the pip process (to terminate
    it on cancel), ``cancelled()`` says whether it was.  The target is changed only when pip succeeded."""
    result = InstallResult(log=os.path.join(plan.target, LOG_NAME))
    if not plan.python:
        result.error = (f"The Python interpreter of this QGIS was not found (sys.executable is {sys.executable}, "
                        f"sys.prefix {sys.prefix}); install the packages yourself: "
                        f"python -m pip install --target {plan.target} {' '.join(plan.requirements)}")
        return result
    os.makedirs(plan.target, exist_ok=True)
    staging = staging_folder(plan.target)
    constraints_file = staging + ".constraints.txt"
    with open(constraints_file, "w", encoding="utf-8") as file:
        file.write("\n".join(plan.constraints) + "\n")
    command = pip_command(plan.python, staging, plan.requirements, constraints_file)
    lines = []
    try:
        with open(result.log, "a", encoding="utf-8") as log:
            log.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(command)}\n")
            returncode = _run(command, log, lines, on_line, started)
        if cancelled():
            result.cancelled, result.error = True, "cancelled; nothing was changed"
        elif returncode != 0:
            result.error = _explain(last_error(lines), plan)
        else:
            result.dropped = drop_distributions(staging, plan.keep)
            result.installed = [name for name in _installed(lines) if normalized(name.rsplit("-", 1)[0])
                                not in result.dropped]
            merge(staging, plan.target)
            result.ok = True
    finally:
        remove(staging)
        remove(constraints_file)
    return result


def _run(command, log, lines, on_line, started):
    environment = {key: value for key, value in os.environ.items() if key not in PIP_SETTINGS_IN_THE_WAY}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                               text=True, encoding="utf-8", errors="replace", env=environment,
                               creationflags=NO_WINDOW)
    started(process)
    for line in process.stdout:
        line = line.rstrip()
        lines.append(line)
        log.write(line + "\n")
        log.flush()
        on_line(line)
    return process.wait()


def _installed(lines):
    done = [line for line in lines if line.startswith("Successfully installed")]
    return done[-1].split()[2:] if done else []


def _explain(error, plan):
    if "No module named pip" in error:
        return (f"{plan.python} has no pip ({error}); install pip for QGIS's Python first (Debian/Ubuntu: "
                "'sudo apt install python3-pip'), then try again")
    return f"pip failed: {error}"
