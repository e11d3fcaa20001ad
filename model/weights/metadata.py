"""The metadata block stored in every weights file, and its validation.

Metadata is plain JSON data.  It is validated field by field so that a damaged or foreign file fails with a message
that names the field, and nothing in it is ever executed or used as a path.
"""

import copy
import json
import re

from ..errors import EDCWeightsError
from ..vocabulary import (ARCHITECTURES, MAX_BANDS, MAX_CLASSES, MAX_METADATA_JSON, MAX_TILE, MIN_TILE,
                          NORMALIZATION_METHODS, WEIGHTS_SAR_UNITS, DEFAULT_GSD_M)

FORMAT = "edc-weights"
FORMAT_VERSION = 1
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
# The size limits (vocabulary) keep a hostile file from making us allocate absurd amounts of memory.


def _fail(field, problem):
    raise EDCWeightsError(f"Weights metadata field '{field}' {problem}. The file is not a valid EDC weights file; "
                          "re-export it with the EDC training script or use the bundled default weights.")


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _check_stream(meta, stream):
    inputs = meta["inputs"].get(stream)
    if not isinstance(inputs, dict):
        _fail(f"inputs.{stream}", "is missing or not an object")
    bands = inputs.get("bands")
    if not isinstance(bands, list) or not bands or len(bands) > MAX_BANDS or \
            not all(isinstance(b, str) and len(b) <= 64 for b in bands):
        _fail(f"inputs.{stream}.bands", f"must be a list of 1 to {MAX_BANDS} band names")
    default = inputs.get("default_bands", list(range(1, len(bands) + 1)))
    if not isinstance(default, list) or len(default) != len(bands) or \
            not all(_is_int(b) and 1 <= b <= 10000 for b in default):
        _fail(f"inputs.{stream}.default_bands", f"must list {len(bands)} band numbers (1-based)")
    inputs["default_bands"] = default
    if stream == "sar":
        units = inputs.setdefault("units", "dB")  # what the network was trained on; older files: decibels
        if units not in WEIGHTS_SAR_UNITS:
            _fail("inputs.sar.units", f"is {str(units)[:40]!r}; this plugin reads weights trained on SAR in "
                                      f"{', '.join(WEIGHTS_SAR_UNITS)}")

    norm = meta["normalization"].get(stream)
    if not isinstance(norm, dict) or norm.get("method") not in NORMALIZATION_METHODS:
        _fail(f"normalization.{stream}.method", f"must be one of {', '.join(NORMALIZATION_METHODS)}")
    if norm["method"] == "percentile":
        low, high = norm.get("low", 2), norm.get("high", 98)
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (low, high)) or \
                not 0 <= low < high <= 100:
            _fail(f"normalization.{stream}", "needs percentiles 0 <= low < high <= 100")
        norm["low"], norm["high"] = float(low), float(high)
    else:
        for key in ("mean", "std"):
            values = norm.get(key)
            if not isinstance(values, list) or len(values) != len(bands) or \
                    not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
                _fail(f"normalization.{stream}.{key}", f"must list {len(bands)} numbers")
        if any(v <= 0 for v in norm["std"]):
            _fail(f"normalization.{stream}.std", "must be positive")


def validate_metadata(meta):
    """Check a metadata dict and return a normalised deep copy; raise EDCWeightsError naming the bad field."""
    if not isinstance(meta, dict):
        raise EDCWeightsError("The weights file carries no EDC metadata block; it was not written by EDC.")
    meta = copy.deepcopy(meta)
    if meta.get("format") != FORMAT:
        _fail("format", f"must be '{FORMAT}'")
    if meta.get("format_version") != FORMAT_VERSION:
        _fail("format_version", f"is {meta.get('format_version')!r}; this plugin reads version {FORMAT_VERSION}: "
                                "update the plugin or re-export the weights")
    if meta.get("architecture") not in ARCHITECTURES:
        _fail("architecture", f"is {str(meta.get('architecture'))[:40]!r}, not one of {', '.join(ARCHITECTURES)}")
    if not isinstance(meta.get("config"), dict):
        _fail("config", "is missing or not an object")

    classes = meta.get("classes")
    if not isinstance(classes, list) or not 2 <= len(classes) <= MAX_CLASSES:
        _fail("classes", f"must list 2 to {MAX_CLASSES} classes")
    for i, cls in enumerate(classes):
        if not isinstance(cls, dict) or cls.get("value") != i or not _is_int(cls.get("value")):
            _fail(f"classes[{i}].value", f"must be {i} (classes are numbered 0..K-1 in order)")
        if not isinstance(cls.get("name"), str) or not 0 < len(cls["name"]) <= 100:
            _fail(f"classes[{i}].name", "must be a non-empty name")
        if not isinstance(cls.get("color"), str) or not _COLOR.match(cls["color"]):
            _fail(f"classes[{i}].color", "must be a colour like '#1f78b4'")

    if not isinstance(meta.get("inputs"), dict):
        _fail("inputs", "is missing or not an object")
    if not isinstance(meta.get("normalization"), dict):
        _fail("normalization", "is missing or not an object")
    for stream in ("optical", "sar"):
        _check_stream(meta, stream)

    for key in ("tile_size", "overlap"):
        if not _is_int(meta.get(key)):
            _fail(key, "must be a whole number")
    if not MIN_TILE <= meta["tile_size"] <= MAX_TILE:
        _fail("tile_size", f"must be between {MIN_TILE} and {MAX_TILE}")
    if not 0 <= meta["overlap"] <= meta["tile_size"] // 2:
        _fail("overlap", "must be between 0 and half the tile size")
    gsd = meta.setdefault("gsd_m", DEFAULT_GSD_M)  # ground sampling distance the network learnt at, metres
    if not isinstance(gsd, (int, float)) or isinstance(gsd, bool) or not 0.01 <= gsd <= 10000:
        _fail("gsd_m", "must be the training ground sampling distance in metres (0.01 to 10000)")
    meta["gsd_m"] = float(gsd)
    meta["trained"] = bool(meta.get("trained", False))
    for key in ("training", "metrics"):
        if not isinstance(meta.setdefault(key, {}), dict):
            _fail(key, "must be an object")
    return meta


def metadata_to_json(meta):
    return json.dumps(validate_metadata(meta), sort_keys=True)


def metadata_from_json(text):
    if isinstance(text, (str, bytes)) and len(text) > MAX_METADATA_JSON:
        raise EDCWeightsError(f"The weights metadata is {len(text)} characters long, far more than EDC metadata "
                              "(a few kB); the file is damaged or not an EDC weights file.")
    try:
        meta = json.loads(text)
    except (TypeError, ValueError, RecursionError) as exc:  # RecursionError: absurdly deep nesting
        raise EDCWeightsError(f"The weights metadata is not valid JSON ({str(exc)[:200]}); the file is "
                              "damaged.") from None
    return validate_metadata(meta)


def class_colors_rgb(meta):
    """Class colours as (r, g, b) tuples, in class order."""
    return [tuple(int(c["color"][i:i + 2], 16) for i in (1, 3, 5)) for c in meta["classes"]]


def make_metadata(architecture, config, classes, optical_bands, sar_bands, *, optical_default=None,
                  sar_default=None, normalization=None, tile_size=256, overlap=32, trained=False,
                  training=None, metrics=None, gsd_m=DEFAULT_GSD_M):
    """Build a validated metadata dict.  ``classes`` is a list of (name, '#rrggbb')."""
    normalization = normalization or {"optical": {"method": "percentile", "low": 2, "high": 98},
                                      "sar": {"method": "percentile", "low": 2, "high": 98}}
    meta = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "architecture": architecture, "config": config,
        "classes": [{"value": i, "name": n, "color": c} for i, (n, c) in enumerate(classes)],
        "inputs": {"optical": {"bands": list(optical_bands),
                               "default_bands": optical_default or list(range(1, len(optical_bands) + 1))},
                   "sar": {"bands": list(sar_bands),
                           "default_bands": sar_default or list(range(1, len(sar_bands) + 1))}},
        "normalization": normalization, "tile_size": tile_size, "overlap": overlap, "trained": trained,
        "training": training or {}, "metrics": metrics or {}, "gsd_m": gsd_m,
    }
    return validate_metadata(meta)
