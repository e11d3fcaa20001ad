"""The folder the packages go to (``<profile>/python/edc_packages``), kept consistent: pip installs into a staging
folder beside it, and only when pip succeeded is that merged in (each package replacing its older copy); a failed
or cancelled install leaves the folder as it was."""

import os
import re
import shutil

LOG_NAME = "edc-install.log"


def normalized(name):
    """A distribution name as pip compares them (``Typing_Extensions`` -> ``typing-extensions``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def dist_info_name(entry):
    """The normalized distribution of a ``<name>-<version>.dist-info`` folder name, else None."""
    if not entry.endswith(".dist-info"):
        return None
    return normalized(entry[:-len(".dist-info")].rsplit("-", 1)[0])


def staging_folder(target):
    """The empty folder pip installs into, beside ``target`` (same file system, so the merge only renames)."""
    staging = f"{os.fspath(target)}.installing"
    remove(staging)
    os.makedirs(staging)
    return staging


def remove(path):
    if os.path.islink(path) or os.path.isfile(path):
        os.unlink(path)
    elif os.path.isdir(path):
        shutil.rmtree(path)


def _recorded_files(folder, dist_info):
    """The files of ``folder`` that the distribution's RECORD lists (its packages, modules, scripts, .pyc)."""
    record = os.path.join(folder, dist_info, "RECORD")
    if not os.path.isfile(record):
        return []
    with open(record, encoding="utf-8") as file:
        rows = [line.rsplit(",", 2)[0] for line in file if line.strip()]
    return [os.path.join(folder, os.path.normpath(row)) for row in rows if not row.startswith(("..", "/"))]


def drop_distributions(folder, names):
    """Remove the distributions ``names`` (e.g. NumPy, which QGIS has) from ``folder``: every file their RECORD
    lists, their ``.dist-info`` and the folders left empty; returns the names removed."""
    wanted = {normalized(name) for name in names}
    dropped = []
    for entry in sorted(os.listdir(folder)):
        name = dist_info_name(entry)
        if name not in wanted:
            continue
        for path in _recorded_files(folder, entry):
            if os.path.isfile(path) or os.path.islink(path):
                os.unlink(path)
        remove(os.path.join(folder, entry))
        dropped.append(name)
    for root, _, _ in sorted(os.walk(folder), key=lambda row: len(row[0]), reverse=True):
        if root != folder and not os.listdir(root):
            os.rmdir(root)
    return dropped


def merge(staging, target):
    """Move everything from ``staging`` into ``target`` (created if missing): a distribution's older
    ``.dist-info`` goes, each entry replaces the one of the same name; shared folders such as ``bin`` are merged
    entry by entry.  ``staging`` is removed."""
    os.makedirs(target, exist_ok=True)
    new = {dist_info_name(entry) for entry in os.listdir(staging)} - {None}
    for entry in os.listdir(target):
        if dist_info_name(entry) in new:
            remove(os.path.join(target, entry))
    _move_into(staging, target)
    remove(staging)


def _move_into(source, destination):
    """Each entry of ``source`` replaces its namesake in ``destination``, except folders that are no regular package
    (``bin``, namespace packages such as ``google``): those are merged entry by entry."""
    for entry in os.listdir(source):
        src, dst = os.path.join(source, entry), os.path.join(destination, entry)
        shared = os.path.isdir(src) and not os.path.islink(dst) and os.path.isdir(dst)
        if shared and not os.path.isfile(os.path.join(src, "__init__.py")) and not entry.endswith(".dist-info"):
            _move_into(src, dst)
            continue
        remove(dst)
        os.replace(src, dst)
