"""ONNX Runtime CPU sessions from a cache of graphs already optimised for one tile shape.

Building a session for EDC spends most of its time optimising the graph (about 1.5 s of CPU here, every run); ONNX
Runtime can save the optimised graph, and a session built from that file takes about 0.4 s.  The first run with a
given weights file, tile shape and ONNX Runtime version saves it (atomically) in the user's cache folder; later runs
start from it.  Only the portable optimisation levels are saved: the machine-specific layout pass runs at every
load.  A cache that cannot be written or read is skipped, never an error.  ``EDC_CACHE_DIR`` moves the folder.
"""

import hashlib
import os
import sys
from pathlib import Path

from ..vocabulary import SESSION_CACHE_FILES


def cache_dir():
    """Where optimised graphs are kept: ``EDC_CACHE_DIR``, else the platform's per-user cache folder."""
    if os.environ.get("EDC_CACHE_DIR"):
        return Path(os.environ["EDC_CACHE_DIR"])
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local")) / "edc" / "cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "edc"
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "edc"


def session_options(ort, shape, level=None, threads=None):
    """ONNX Runtime session options for inputs of ``shape`` (batch, height, width), at optimisation ``level``, with
    ``threads`` threads per pass (None: ONNX Runtime's choice, every core)."""
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = int(threads)
    for name, size in zip(("batch", "height", "width"), shape):
        options.add_free_dimension_override_by_name(name, int(size))
    if level is not None:
        options.graph_optimization_level = level
    return options


def cached_session(ort, weights_bytes, outputs, make_graph, shape, threads=None, variant=""):
    """A CPU session for inputs of ``shape`` (batch, height, width) of the graph ``make_graph()`` (ONNX bytes: the
    weights ``weights_bytes`` cut to ``outputs``, made into ``variant``, e.g. "int8"), from the cache where it holds
    that graph optimised for that shape, else built and saved there (the graph is only made then).  ``threads``: see
    :func:`session_options`."""
    key = hashlib.sha256(weights_bytes + repr((tuple(outputs), tuple(shape), ort.__version__, variant)).encode())
    path = cache_dir() / f"edc-{key.hexdigest()[:32]}.onnx"
    if path.is_file():
        try:
            session = _cpu_session(ort, str(path), shape, threads=threads)
            os.utime(path)  # recently used: kept when the cache is trimmed
            return session
        except Exception:  # noqa: BLE001 - a damaged or foreign file: build again and replace it
            path.unlink(missing_ok=True)
    return _build_and_save(ort, make_graph(), shape, path, threads)


def _cpu_session(ort, model, shape, level=None, threads=None, **extra):
    options = session_options(ort, shape, level, threads)
    for name, value in extra.items():
        setattr(options, name, value)
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def _build_and_save(ort, graph, shape, path, threads=None):
    """Optimise ``graph`` with the portable passes into ``path`` (atomically), then load that; without a writable
    cache, a session straight from ``graph``."""
    tmp = path.with_name(f"{path.stem}.{os.getpid()}.part")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _cpu_session(ort, graph, shape, ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
                     optimized_model_filepath=str(tmp))
        os.replace(tmp, path)
        _trim(path.parent)
    except OSError:
        return _cpu_session(ort, graph, shape, threads=threads)
    finally:
        if tmp.exists():
            tmp.unlink()
    return _cpu_session(ort, str(path), shape, threads=threads)


def _trim(folder):
    """Keep the SESSION_CACHE_FILES most recently used graphs."""
    files = sorted(folder.glob("edc-*.onnx"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in files[SESSION_CACHE_FILES:]:
        old.unlink(missing_ok=True)
