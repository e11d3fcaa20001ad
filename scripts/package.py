"""`make package`: the plugin ZIP for QGIS's *Plugins > Manage and Install Plugins > Install from ZIP* (any platform)
and for the official plugin repository, written to .build/edc-<version>.zip.

One top folder ``edc/`` holding what QGIS needs at run time (metadata.txt, __init__.py, edc_plugin.py, LICENSE,
README.md, model/, processing_provider/, python_deps/, resources/ with the default weights and the sample scene,
docs/); never tests/, bench/, scripts/, .build/, .venv/, runs/, caches or hidden files. After writing, the ZIP is
checked against the rules of plugins.qgis.org that can be checked offline (its upload validator): size, one top
folder named ``[A-Za-z][A-Za-z0-9-_]+`` with __init__.py, metadata.txt and LICENSE, the required metadata, no .pyc,
__pycache__, .git or __MACOSX, no paths with '..', and no binary files besides the weights, the sample rasters and
images.

Standard library only: ``python3 scripts/package.py [--out FOLDER]``.
"""

import argparse
import configparser
import os
import re
import sys
import zipfile
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "edc"
INCLUDE = ("metadata.txt", "__init__.py", "edc_plugin.py", "LICENSE", "README.md", "model", "processing_provider",
           "python_deps", "resources", "docs")
# Caches GDAL writes next to the sample inputs (.gitignore); truth.tif.aux.xml holds the class names and is kept.
SKIP_FILES = {"resources/sample/optical.tif.aux.xml", "resources/sample/sar.tif.aux.xml",
              # The PyTorch copy of the default weights is for training and fine-tuning from a clone; the plugin
              # maps with edc_default.onnx (ONNX Runtime only), and both would not fit the 25 MB limit.
              "resources/edc_default.pt"}
SKIP_SUFFIXES = (".pyc", ".pyo", ".part.tif")
# What plugins.qgis.org requires (validator.py of QGIS-Django) and its size limit.
REQUIRED_METADATA = ("name", "description", "version", "qgisMinimumVersion", "author", "email", "about", "tracker",
                     "repository")
MAX_SIZE = 25_000_000
# Binary files allowed in the package: the weights, the sample scene and the images of the icon and model card.
BINARY_SUFFIXES = (".onnx", ".tif", ".png", ".svg")
TEXT_SUFFIXES = (".py", ".txt", ".md", ".json", ".xml", ".qml", ".svg", ".csv", ".model3")  # checked as UTF-8


def metadata(root=ROOT):
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str
    parser.read(root / "metadata.txt", encoding="utf-8")
    return dict(parser["general"])


def files(root=ROOT):
    """Paths (relative, '/'-separated, sorted) of the files that go into the package."""
    chosen = []
    for entry in INCLUDE:
        path = root / entry
        if path.is_file():
            chosen.append(entry)
            continue
        if not path.is_dir():
            raise SystemExit(f"[package] missing: {entry}")
        for folder, dirs, names in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__pycache__")
            for name in sorted(names):
                relative = (Path(folder) / name).relative_to(root).as_posix()
                if name.startswith(".") or name.endswith(SKIP_SUFFIXES) or relative in SKIP_FILES:
                    continue
                chosen.append(relative)
    return sorted(chosen)


def build(out_folder, root=ROOT):
    """Write <out_folder>/edc-<version>.zip and return its path."""
    version = metadata(root)["version"]
    out_folder = Path(out_folder)
    out_folder.mkdir(parents=True, exist_ok=True)
    target = out_folder / f"{PACKAGE}-{version}.zip"
    partial = target.with_suffix(".zip.part")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr(zipfile.ZipInfo(f"{PACKAGE}/", date_time=(2026, 1, 1, 0, 0, 0)), "")  # top folder first
        for relative in files(root):
            archive.write(root / relative, f"{PACKAGE}/{relative}")
    partial.replace(target)
    return target


def check(zip_path):
    """The problems plugins.qgis.org's validator (and QGIS's Install from ZIP) would find, as a list of strings."""
    problems = []
    size = os.path.getsize(zip_path)
    if size > MAX_SIZE:
        problems.append(f"{size} bytes, over the repository's limit of {MAX_SIZE}")
    with zipfile.ZipFile(zip_path) as archive:
        names = archive.namelist()
        bad = archive.testzip()
        if bad:
            problems.append(f"bad CRC: {bad}")
        tops = {name.split("/")[0] for name in names}
        if len(tops) != 1 or "/" not in names[0]:
            problems.append(f"not one top folder: {sorted(tops)}")
        top = names[0].split("/")[0]
        if not re.match(r"^[A-Za-z][A-Za-z0-9-_]+$", top):
            problems.append(f"top folder name {top!r}")
        for name in names:
            parts = name.split("/")
            if ".." in name or name.startswith("/") or "\\" in name:
                problems.append(f"path information: {name}")
            if ".pyc" in name:
                problems.append(f".pyc file: {name}")
            if {"__MACOSX", ".git", "__pycache__"} & set(parts):
                problems.append(f"forbidden folder: {name}")
            if any(part.startswith(".") for part in parts if part):
                problems.append(f"hidden file: {name}")
            text = name.endswith(TEXT_SUFFIXES) or parts[-1] == "LICENSE"
            if not name.endswith("/") and not text and not name.endswith(BINARY_SUFFIXES):
                problems.append(f"unexpected file type: {name}")
            elif text:
                try:
                    archive.read(name).decode("utf-8")
                except UnicodeDecodeError:
                    problems.append(f"not UTF-8 text: {name}")
        for required in ("__init__.py", "metadata.txt", "LICENSE"):
            if f"{top}/{required}" not in names:
                problems.append(f"no {top}/{required}")
        if f"{top}/metadata.txt" in names:
            parser = configparser.ConfigParser(interpolation=None)
            parser.optionxform = str
            parser.read_string(archive.read(f"{top}/metadata.txt").decode("utf-8"))
            general = dict(parser["general"]) if parser.has_section("general") else {}
            problems += [f"metadata.txt lacks {key}" for key in REQUIRED_METADATA if not general.get(key, "").strip()]
            if "/" in general.get("author", ""):
                problems.append("author contains a slash")
            for key in ("tracker", "repository", "homepage"):
                if key in general:
                    url = urlparse(general[key])
                    if not (url.scheme and url.netloc):
                        problems.append(f"{key} is not a URL: {general[key]}")
            icon = general.get("icon", "")
            if icon and f"{top}/{icon.removeprefix('./')}" not in names:
                problems.append(f"icon {icon} not in the package")
    return problems


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / ".build"), help="folder for edc-<version>.zip (default .build)")
    args = parser.parse_args(argv)
    target = build(args.out)
    problems = check(target)
    with zipfile.ZipFile(target) as archive:
        entries = [info for info in archive.infolist() if not info.is_dir()]
        unpacked = sum(info.file_size for info in entries)
    size = target.stat().st_size
    print(f"[package] {target}: {size / 1e6:.1f} MB ({size} bytes; {unpacked / 1e6:.1f} MB unpacked), "
          f"{len(entries)} files under {PACKAGE}/")
    if problems:
        print("[package] the plugin repository would reject it:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    print("[package] passes the plugin repository's offline checks (size <= 25 MB, one top folder, __init__.py, "
          "metadata.txt with the required keys, LICENSE, no .pyc/__pycache__/hidden files, no other binaries)")
    print("[package] install it in QGIS with Plugins > Manage and Install Plugins > Install from ZIP")
    return 0


if __name__ == "__main__":
    sys.exit(main())
