"""Which packages EDC installs into QGIS's Python, pinned, in this one place (the plugin's install action and
``scripts/desktop_install.py`` both read it; ``requirements.txt`` pins the same versions for the developers' venv).

Inference needs ONNX Runtime only (``onnxruntime``, or ``onnxruntime-gpu`` where an NVIDIA driver loads); PyTorch is
for ``.pt`` weights and training, so it is optional.  Packages QGIS's Python already has (NumPy above all: its GDAL and
QGIS bindings are built against it) are never replaced: pip resolves against their installed versions (constraints)
and their copies are removed from what pip unpacked (``target_folder.drop_distributions``).
"""

import ctypes
import sys

ONNXRUNTIME = "onnxruntime==1.31.1"
ONNXRUNTIME_GPU = "onnxruntime-gpu==1.31.1"
TORCH = ("torch==2.13.0", "onnx==1.23.2", "tqdm==4.70.1")  # PyTorch, with what training and ONNX export use
# Packages QGIS's Python brings (Debian's python3-numpy etc., the OSGeo4W and macOS bundles): kept as they are.
KEEP_QGIS_OWN = ("numpy", "scipy", "matplotlib", "pillow")
NUMPY_FALLBACK = "numpy<2"  # where QGIS's Python has no NumPy at all: a 1.x build, as QGIS 3.22's bindings need


def nvidia_driver_loads(platform=sys.platform):
    """True where the NVIDIA driver's library loads (the same probe as ``cuda_problem`` in the inference runtime):
    then ``onnxruntime-gpu`` can use the GPU; never on macOS."""
    if platform == "darwin":
        return False
    try:
        ctypes.CDLL("nvcuda.dll" if platform == "win32" else "libcuda.so.1")
    except OSError:
        return False
    return True


def requirements(with_torch, gpu):
    """The pinned requirements to install: ONNX Runtime (the GPU build when ``gpu``), plus PyTorch when asked."""
    return [ONNXRUNTIME_GPU if gpu else ONNXRUNTIME] + (list(TORCH) if with_torch else [])


def installed_version(name):
    """The version of distribution ``name`` in the running Python, or None."""
    from importlib import metadata
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def constraints(versions):
    """pip constraints from ``{name: installed version or None}`` of KEEP_QGIS_OWN: each installed one pinned to its
    version (pip then resolves against exactly what QGIS has); NumPy < 2 where QGIS has none."""
    lines = [f"{name}=={version}" for name, version in versions.items() if version]
    if not versions.get("numpy"):
        lines.append(NUMPY_FALLBACK)
    return lines


def qgis_own_versions():
    """``{name: version or None}`` of KEEP_QGIS_OWN in the running Python."""
    return {name: installed_version(name) for name in KEEP_QGIS_OWN}
