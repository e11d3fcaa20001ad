"""The list of pairs of a ``segment_many`` run: a CSV file with the columns ``optical,sar[,name]`` (paths relative to
the CSV's folder), or a folder holding ``NAME_optical.tif`` + ``NAME_sar.tif``; each pair's name names its output."""

import csv
import re
from collections import Counter
from pathlib import Path

from ..errors import EDCInputError

OPTICAL_SUFFIX, SAR_SUFFIX = "_optical", "_sar"
NAME = re.compile(r"[A-Za-z0-9._-]+")


def read_pairs(source):
    """[(name, optical path, SAR path)] from a CSV file or a folder (see the module)."""
    source = Path(source).expanduser()
    if source.is_dir():
        return folder_pairs(source)
    if not source.is_file():
        raise EDCInputError(f"The list of pairs '{source}' does not exist; give a CSV file (columns optical,sar and "
                            "optionally name) or a folder of NAME_optical.tif and NAME_sar.tif files.")
    return csv_pairs(source)


def csv_pairs(path):
    """The pairs of a CSV file (header ``optical,sar[,name]``, any case and order)."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            rows = list(reader)
        columns = [(c or "").strip().lower() for c in reader.fieldnames or []]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise EDCInputError(f"The list of pairs '{path}' cannot be read ({exc}); give a UTF-8 CSV file.") from None
    if not {"optical", "sar"} <= set(columns):
        raise EDCInputError(f"The list of pairs '{path}' has the columns {columns}; it needs 'optical' and 'sar' "
                            "(and optionally 'name').")
    pairs = []
    for number, row in enumerate(rows, start=2):
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
        if not row["optical"] or not row["sar"]:
            raise EDCInputError(f"Line {number} of the list of pairs '{path}' lacks an optical or a SAR path.")
        optical, sar = (_relative_to(path.parent, row[k]) for k in ("optical", "sar"))
        pairs.append((row.get("name") or Path(row["optical"]).stem, optical, sar))
    if not pairs:
        raise EDCInputError(f"The list of pairs '{path}' lists no pair; add lines 'optical,sar'.")
    check_names([name for name, _, _ in pairs])
    return pairs


def folder_pairs(folder):
    """The pairs of a folder: every ``NAME_optical.tif`` with its ``NAME_sar.tif``."""
    pairs = []
    for optical in sorted(folder.glob(f"*{OPTICAL_SUFFIX}.tif")):
        name = optical.name[:-len(f"{OPTICAL_SUFFIX}.tif")]
        pairs.append((name, str(optical), str(folder / f"{name}{SAR_SUFFIX}.tif")))
    if not pairs:
        raise EDCInputError(f"The folder '{folder}' holds no NAME{OPTICAL_SUFFIX}.tif file; name each pair "
                            f"NAME{OPTICAL_SUFFIX}.tif + NAME{SAR_SUFFIX}.tif, or give a CSV list of pairs.")
    return pairs


def check_names(names):
    """EDCInputError for a name that is no plain file name, or that two pairs share (their outputs would clash)."""
    for name in names:
        if not NAME.fullmatch(name) or name in (".", ".."):
            raise EDCInputError(f"The pair name '{name}' cannot name an output file; use letters, digits, '.', '_' "
                                "and '-' only.")
    twice = [name for name, n in Counter(names).items() if n > 1]
    if twice:
        raise EDCInputError(f"Two pairs have the same name ({', '.join(twice[:5])}); give each pair its own name "
                            "(the 'name' column).")


def _relative_to(folder, path):
    path = Path(path).expanduser()
    return str(path if path.is_absolute() else folder / path)
