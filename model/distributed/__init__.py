"""Many scenes, or one continent-size mosaic, mapped on a Dask cluster (``python -m model.segment_many``): identical,
pixel for pixel, to ``segment()`` on each whole scene, resumable after a crash.

- ``plan``: a scene cut into blocks of whole tiles of its tile grid, with a halo: the whole-scene answer per block.
- ``scene``: what is decided once per scene (decoding, statistics, grids) and sent to the workers.
- ``block``: one block (or one whole pair) mapped into its GeoTIFF on a worker.
- ``worker``: the tasks, and the predictor each worker process loads once.
- ``pairs``: the list of pairs (CSV or folder).
- ``manifest``: what is done, with checksums: a rerun does only what is missing.
- ``assemble``: VRT mosaic and Cloud-Optimized GeoTIFF of the blocks.
- ``cluster``: the embedded LocalCluster or an existing scheduler.
- ``run``: ``segment_many()``, the run in order.  ``cli``: the command line.

Dask is imported only when a run starts (model/dependencies.py says how to install it).
"""

from .run import ManyOptions, ManyResult, segment_many

__all__ = ["ManyOptions", "ManyResult", "segment_many"]
