"""One block of a scene mapped into its own styled GeoTIFF: the tiles of its window read, predicted and blended as in
the whole-scene run (:mod:`model.distributed.plan`), its own pixels written, the file renamed into place when
complete (never half-written under its final name) and its checksum taken."""

import hashlib
from pathlib import Path

from ..inference.inputs import TileReader
from ..inference.tiling import run_tiled
from ..inference.writers import OutputSet
from .plan import sub_grid
from .scene import block_inputs


def run_block(plan, block, path, predictor, meta, batch_size=None, confidence=None):
    """Map ``block`` of the scene ``plan`` into the GeoTIFF ``path`` (and the probability of the chosen class into
    ``confidence`` where given) with ``predictor``; returns a dict: file, sha256, pixels per class and m^2 per class
    (None without a CRS)."""
    rows, cols = block.rows, block.cols
    grid = plan.output.window(cols.output[0], rows.output[0], cols.output[1] - cols.output[0],
                              rows.output[1] - rows.output[0])
    paths = {"land cover": Path(path), **({"confidence": Path(confidence)} if confidence else {})}
    outputs = OutputSet(paths, grid, meta, plan.n_optical)
    tiles = sub_grid(block, plan.tile, plan.overlap)
    own = _OwnPixels(block, lambda y, values, valid: outputs.write_rows(y, values, valid, plan.optical_stats))
    try:
        with TileReader(block_inputs(plan, block, meta), plan.optical_stats, plan.sar_stats) as reader:
            run_tiled(tiles, outputs.channels, reader.read, lambda batch: predictor.stacked(batch),
                      own.write_rows, batch_size=batch_size or predictor.default_batch, prefetch=predictor.on_gpu)
        outputs.commit()
    finally:
        outputs.discard()
    return {"file": Path(path).name, "sha256": file_sha256(path), "pixels": [int(v) for v in outputs.counts],
            "area_m2": None if outputs.areas is None else [float(v) for v in outputs.areas]}


class _OwnPixels:
    """``write_rows`` for the rows of a block's tile window: hands on, in order, the block's own output rows, each
    holding the block's own output columns (their nearest model pixels)."""

    def __init__(self, block, write_output):
        self.rows, self.cols = block.rows, block.cols
        self.write_output = write_output
        self.next_row = 0  # own output rows handed on so far

    def write_rows(self, y, values, valid):
        pick = self.rows.pick
        end = self.next_row
        while end < len(pick) and pick[end] < y + values.shape[1]:
            end += 1
        if end == self.next_row:
            return
        rows = [r - y for r in pick[self.next_row:end]]
        cols = list(self.cols.pick)
        self.write_output(self.next_row, values[:, rows][:, :, cols], valid[rows][:, cols])
        self.next_row = end


def file_sha256(path):
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
