"""Dataset readers: M3M-CR, WHU-OPT-SAR, OMBRIA and a generic GeoTIFF layout, all yielding one sample dict.

``open_dataset(kind, root, split)`` returns a reader; ``reader[i]`` is a dict with ``optical``, ``sar``, ``label``
and optionally ``cloudfree`` and ``cloud_mask`` (see ``base``).  Readers import only numpy at import time.
"""

from pathlib import Path

from ..errors import EDCDatasetError
from ..vocabulary import DATASET_KINDS as KINDS
from .base import IGNORE, Dataset, check_sample


def reader_class(kind):
    if kind == "ombria":
        from .ombria import Ombria
        return Ombria
    if kind == "m3m_cr":
        from .m3m_cr import M3MCR
        return M3MCR
    if kind == "whu_opt_sar":
        from .whu_opt_sar import WHUOptSar
        return WHUOptSar
    if kind == "generic":
        from .generic import Generic
        return Generic
    raise EDCDatasetError(f"Unknown dataset kind '{kind}'; use one of {', '.join(KINDS)} (or 'auto').")


def detect_kind(root):
    """Guess the dataset kind from the folder layout."""
    root = Path(root)
    if not root.is_dir():
        raise EDCDatasetError(f"Dataset folder '{root}' does not exist or is not a folder; give the folder that "
                              "holds the dataset with --data.")
    if (root / "classes.json").is_file():
        return "generic"
    if (root / "OmbriaS1").is_dir() or (root / "OmbriaS2").is_dir():
        return "ombria"
    if any(root.glob("*/planet_cloudy_*")) or any(root.glob("planet_cloudy_*")):
        return "m3m_cr"
    if any((d / "sar").is_dir() and ((d / "lbl").is_dir() or (d / "label").is_dir())
           for d in [root, *root.glob("*")] if d.is_dir()):
        return "whu_opt_sar"
    raise EDCDatasetError(f"Cannot tell which kind of dataset '{root}' is. Expected an OMBRIA, M3M-CR or "
                          "WHU-OPT-SAR folder, or the generic layout (classes.json with optical/, sar/ and label/).")


def open_dataset(kind, root, split=None):
    """Open a dataset folder; ``kind`` is one of KINDS or 'auto'."""
    if kind in (None, "auto"):
        kind = detect_kind(root)
    return reader_class(kind)(root, split)


__all__ = ["IGNORE", "KINDS", "Dataset", "check_sample", "detect_kind", "open_dataset", "reader_class"]
