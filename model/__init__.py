"""EDC core: network, weights, normalisation, tiling, raster I/O and training.

This package never imports QGIS, and importing it imports neither torch nor GDAL: the heavy modules are loaded by the
submodules that need them.
"""

__version__ = "0.1.0"
