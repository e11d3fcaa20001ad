"""Shared test helpers: raster writers (``rasters``), tiny weights (``weights``), dataset folders (``datasets``) and
hostile files (``hostile``).  Imported as ``helpers`` (``tests`` is on pytest's pythonpath)."""
