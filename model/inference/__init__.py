"""Tiled inference: ``segment(SegmentOptions(...))`` maps land cover from an optical + SAR raster pair.

- ``options``: what a run is asked to do (:class:`SegmentOptions`), checked before anything is read.
- ``inputs``: the inputs opened on the output grid, the normalisation statistics, normalised tile windows.
- ``runtime``: predictors (PyTorch, ONNX Runtime) built from an opened weights file, CPU or CUDA.
- ``tiling``: overlapping tiles, batches, blending, finished rows handed on in order.
- ``writers``: the output GeoTIFFs (colour table, class names, ``.qml``), written row by row, renamed when complete.
- ``decoding``: what the input values mean (undeclared fill, SAR units), decided once per run.
- ``regrid``: rows of the model grid brought onto the output grid (nearest).
- ``signals``: SIGTERM during a run handled as a cancel.
- ``malloc``: the glibc setting measured to speed up CPU passes.
- ``run``: ``segment()``, the run in the order the data flows.
"""

from .options import SegmentOptions
from .run import SegmentResult, segment

__all__ = ["SegmentOptions", "SegmentResult", "segment"]
