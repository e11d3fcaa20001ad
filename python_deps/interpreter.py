"""The Python interpreter of the running QGIS, to run pip with.

Inside QGIS ``sys.executable`` is rarely that interpreter: on Windows and macOS it is QGIS itself
(``qgis-bin.exe``, ``QGIS.app/Contents/MacOS/QGIS``), and on Linux the embedded Python guesses it from ``PATH``
(here ``/root/.pyenv/shims/python3``, another Python altogether).  The candidates below are where the QGIS
installers put it; the first that exists and reports the running Python's version wins.
"""

import os
import subprocess
import sys

NO_WINDOW = getattr(subprocess, "CREATE_NO_WINDOW", 0)  # Windows: no console window flashing up


def _looks_like_python(path):
    name = os.path.basename(path).lower()
    return name.startswith("python") and "w.exe" not in name


def candidates(executable, prefix, exec_prefix, platform, version):
    """Paths (in order of preference, not checked) where the interpreter of a QGIS whose ``sys.executable``,
    ``sys.prefix`` and ``sys.exec_prefix`` are given may be, for ``platform`` (``sys.platform``) and ``version``
    ((major, minor))."""
    major, minor = version
    here = os.path.dirname(executable) if executable else ""
    named = [executable] if executable and _looks_like_python(executable) else []
    if platform == "win32":
        # OSGeo4W and the standalone installer: <root>\bin\qgis-bin.exe, <root>\bin\python3.exe and
        # <root>\apps\Python3x\python.exe (= sys.prefix); pythonw.exe's console twin first.
        twin = [os.path.join(here, "python.exe")] if executable.lower().endswith("pythonw.exe") else []
        found = twin + named + [os.path.join(prefix, "python.exe"), os.path.join(exec_prefix, "python.exe"),
                                os.path.join(here, "python3.exe"), os.path.join(here, "python.exe"),
                                os.path.join(here, "..", "apps", f"Python{major}{minor}", "python.exe")]
    else:
        # macOS: QGIS.app/Contents/MacOS/QGIS with Contents/MacOS/bin/python3; Linux: <prefix>/bin/python3.x.
        folders = ([os.path.join(here, "bin")] if platform == "darwin" else []) + [
            os.path.join(exec_prefix, "bin"), os.path.join(prefix, "bin")]
        found = [os.path.join(folder, name) for folder in folders
                 for name in (f"python{major}.{minor}", f"python{major}")] + named
    unique = []
    for path in found:
        path = os.path.normpath(path)
        if path not in unique:
            unique.append(path)
    return unique


def python_version(path, timeout=30):
    """(major, minor) that the interpreter at ``path`` reports, or None when it does not run."""
    try:
        done = subprocess.run([path, "-c", "import sys; print('%d %d' % sys.version_info[:2])"], capture_output=True,
                              text=True, timeout=timeout, check=False, creationflags=NO_WINDOW)
    except (OSError, subprocess.SubprocessError):
        return None
    try:
        major, minor = done.stdout.split()
        return int(major), int(minor)
    except ValueError:
        return None


def find_python(executable=None, prefix=None, exec_prefix=None, platform=None, version=None):
    """The interpreter of the running QGIS (defaults: this process's ``sys`` values), or None when no candidate exists
    and runs as the same Python version."""
    version = tuple(version or sys.version_info[:2])
    for path in candidates(sys.executable if executable is None else executable,
                           sys.prefix if prefix is None else prefix,
                           sys.exec_prefix if exec_prefix is None else exec_prefix,
                           platform or sys.platform, version):
        if os.path.isfile(path) and python_version(path) == version:
            return path
    return None
