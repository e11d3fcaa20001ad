"""`make install` / `make uninstall`: the plugin in the user's default QGIS 3 profile on Debian/Ubuntu.

install:
  1. <profile>/python/plugins/edc: a link to this folder (``--copy``: a copy of the files the ZIP holds instead);
  2. the Python packages the plugin needs at run time into <profile>/python/edc_packages, which the plugin puts on
     ``sys.path`` when QGIS loads it (__init__.py).  ``--deps``:
       pip  (default) what the plugin's *Raster > EDC > Install Python dependencies…* installs, with PyTorch ticked
            (python_deps/: the pins in python_deps/packages.py; ONNX Runtime's GPU build where an NVIDIA driver
            loads), with ``/usr/bin/python3 -m pip install --target``; NumPy, SciPy, Matplotlib and Pillow stay
            Debian's (pip resolves against their versions and their copies are dropped);
       venv a file ``edc-venv.pth`` in <edc_packages> naming this checkout's .venv site-packages (``make setup``), so
            QGIS uses the packages already installed there; nothing is downloaded (developers, the desktop test);
       none nothing (you provide the packages yourself);
  3. ``[PythonPlugins] edc=true`` in <profile>/QGIS/QGIS3.ini, so plain ``qgis`` loads it.
uninstall removes exactly these three things (the link or copy, edc_packages, the ini entry).

The profile is $HOME/.local/share/QGIS/QGIS3/profiles/default (``--profile`` to choose another folder).
"""

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = "edc"
PACKAGES = "edc_packages"


def default_profile():
    return Path(os.environ["HOME"]) / ".local" / "share" / "QGIS" / "QGIS3" / "profiles" / "default"


def set_ini(ini, enabled):
    """Set (``enabled``) or remove ``edc=true`` in the [PythonPlugins] section of a QSettings ini file, editing only
    those lines (QSettings' own syntax elsewhere is left as it is)."""
    lines = ini.read_text(encoding="utf-8").splitlines() if ini.exists() else []
    start = next((i for i, line in enumerate(lines) if line.strip() == "[PythonPlugins]"), None)
    if start is None:
        if not enabled:
            return False
        lines += ([""] if lines and lines[-1].strip() else []) + ["[PythonPlugins]", f"{PLUGIN}=true"]
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("[")), len(lines))
        body = [line for line in lines[start + 1:end] if line.split("=")[0].strip() != PLUGIN]
        if enabled:
            body.insert(0, f"{PLUGIN}=true")
        if any(line.strip() for line in body):
            lines[start:end] = [lines[start]] + body
        else:  # the section held only our entry: remove it with its header
            lines[start:end] = []
            while lines and not lines[-1].strip():
                lines.pop()
    ini.parent.mkdir(parents=True, exist_ok=True)
    ini.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return True


def copy_plugin(target):
    sys.path.insert(0, str(ROOT / "scripts"))
    from package import files

    for relative in files(ROOT):
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / relative, target / relative)


def install(profile, deps, copy):
    plugins = profile / "python" / "plugins"
    target = plugins / PLUGIN
    plugins.mkdir(parents=True, exist_ok=True)
    if target.is_symlink() or not target.exists():
        if target.is_symlink():
            target.unlink()
        if copy:
            copy_plugin(target)
            print(f"[install] plugin copied to {target}")
        else:
            target.symlink_to(ROOT, target_is_directory=True)
            print(f"[install] plugin linked: {target} -> {ROOT}")
    elif (target / "metadata.txt").is_file() and copy:
        shutil.rmtree(target)
        copy_plugin(target)
        print(f"[install] plugin copy replaced in {target}")
    else:
        raise SystemExit(f"[install] {target} exists and is not a link (installed from a ZIP?); remove it first with "
                         "'make uninstall' or Plugins > Manage and Install Plugins > Uninstall")

    packages = profile / "python" / PACKAGES
    packages.mkdir(parents=True, exist_ok=True)
    pth = packages / "edc-venv.pth"
    if pth.exists():
        pth.unlink()
    if deps == "pip":
        sys.path.insert(0, str(ROOT))  # python_deps imports no QGIS
        from python_deps.install import install as pip_install
        from python_deps.install import make_plan

        plan = make_plan(packages, with_torch=True, python=sys.executable)
        print(f"[install] Python packages for QGIS into {packages} with {plan.python} (several GB with PyTorch; "
              f"NumPy, SciPy, Matplotlib and Pillow come from Debian): {' '.join(plan.requirements)}", flush=True)
        result = pip_install(plan, on_line=lambda line: print(f"  {line}", flush=True))
        if not result.ok:
            raise SystemExit(f"[install] {result.error} (log: {result.log})")
        for name in result.dropped:
            print(f"[install] left {name} to Debian's Python (pip's copy removed from {PACKAGES})")
    elif deps == "venv":
        python = ROOT / ".venv" / "bin" / "python"
        site = python.is_file() and subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True, text=True, check=True).stdout.strip()
        if not site or not Path(site).is_dir():
            raise SystemExit(f"[install] {site} is missing: run 'make setup' first, or use EDC_DEPS=pip")
        pth.write_text(f"{site}\n")
        print(f"[install] Python packages: QGIS will use this checkout's venv ({site}) through {pth}")
    else:
        print("[install] Python packages: none installed (EDC_DEPS=none); QGIS's Python must find torch or "
              "onnxruntime itself")

    ini = profile / "QGIS" / "QGIS3.ini"
    set_ini(ini, True)
    print(f"[install] enabled in {ini} ([PythonPlugins] {PLUGIN}=true); start QGIS: the EDC toolbar button, "
          "Raster > EDC and Processing > Toolbox > EDC")


def uninstall(profile):
    target = profile / "python" / "plugins" / PLUGIN
    if target.is_symlink():
        target.unlink()
        print(f"[uninstall] removed the link {target}")
    elif (target / "metadata.txt").is_file():
        shutil.rmtree(target)
        print(f"[uninstall] removed {target}")
    packages = profile / "python" / PACKAGES
    if packages.exists():
        shutil.rmtree(packages)
        print(f"[uninstall] removed {packages}")
    ini = profile / "QGIS" / "QGIS3.ini"
    if set_ini(ini, False):
        print(f"[uninstall] removed {PLUGIN} from [PythonPlugins] in {ini}")
    if ini.is_file() and not ini.read_text(encoding="utf-8").strip():
        ini.unlink()  # install created it (QGIS itself never leaves it empty)
    for folder in (profile / "python" / "plugins", profile / "python", profile / "QGIS", profile):
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()  # folders install created, still empty


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("action", choices=("install", "uninstall"))
    parser.add_argument("--profile", type=Path, default=None, help="QGIS profile folder (default: %(default)s = "
                        "$HOME/.local/share/QGIS/QGIS3/profiles/default)")
    parser.add_argument("--deps", choices=("pip", "venv", "none"), default="pip")
    parser.add_argument("--copy", action="store_true", help="copy the plugin instead of linking this folder")
    args = parser.parse_args(argv)
    profile = (args.profile or default_profile()).absolute()
    if args.action == "install":
        install(profile, args.deps, args.copy)
    else:
        uninstall(profile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
