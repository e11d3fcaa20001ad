"""``edc:segment_many``: many optical + SAR pairs, or one large pair in blocks, on a Dask cluster started in the
background (this machine's cores) or reached at a scheduler's address; progress per block / pair and cancel."""

import json
import os

from qgis.core import (QgsProcessingAlgorithm, QgsProcessingException, QgsProcessingOutputNumber,
                       QgsProcessingOutputString, QgsProcessingParameterBoolean, QgsProcessingParameterDefinition,
                       QgsProcessingParameterEnum, QgsProcessingParameterFile, QgsProcessingParameterFolderDestination,
                       QgsProcessingParameterNumber, QgsProcessingParameterString)
from qgis.PyQt.QtGui import QIcon

from ..model.errors import EDCError
from ..model.vocabulary import DEFAULT_BLOCK
from . import common
from .common import DEVICES, SEGMENT_ICON, flowing
from .segment_algorithm import WEIGHTS_FILTER

HELP = """<p>Maps land cover like <i>Land cover / flood mapping</i> (edc:segment), for <b>many optical + SAR
pairs</b> or for <b>one large pair cut into blocks</b>, on a Dask cluster: by default worker processes on this
machine's cores, started in the background for this run and stopped after it; or an existing cluster, given by its
scheduler's address (its workers must see the same paths). Each block's or pair's class map equals edc:segment on
the whole scene with the same tile size and overlap.</p>
<h3>Inputs</h3>
<ul>
<li><b>List of pairs</b>: a CSV file with the columns <code>optical,sar</code> and optionally <code>name</code>
(paths relative to the CSV's folder); each pair is written to <code>NAME.tif</code> in the output folder. A pair
that fails is reported by name with the reason; the others go on.</li>
<li>Or <b>optical raster</b> + <b>SAR raster</b> of one large scene: cut into blocks of <b>block size</b> pixels
(whole tiles of the scene's tile grid plus a halo), written to <code>NAME_blocks/</code> in the output folder with a
VRT mosaic <code>NAME.vrt</code> and, where asked, one Cloud-Optimized GeoTIFF <code>NAME.tif</code>.</li>
<li><b>Workers</b>: worker processes on this machine (0 = one per core); <b>threads per worker</b> (0 = the cores
shared out). The weights are loaded once per worker.</li>
<li>Device, tile size, overlap, batch size and <b>int8 matrix products</b> on the CPU: as in edc:segment.</li>
</ul>
<p>A manifest (<code>manifest.json</code>) lists what is done with checksums: running again after a cancel, a crash
or a killed worker does only what is missing. Nothing half-written is kept.</p>"""


class SegmentManyAlgorithm(QgsProcessingAlgorithm):
    """Runs :func:`model.distributed.segment_many`."""

    PAIRS, OPTICAL, SAR, WEIGHTS = "PAIRS", "OPTICAL", "SAR", "WEIGHTS"
    BLOCK_SIZE, COG, WORKERS, THREADS, SCHEDULER = "BLOCK_SIZE", "COG", "WORKERS", "THREADS_PER_WORKER", "SCHEDULER"
    DEVICE, TILE_SIZE, OVERLAP, BATCH_SIZE, CPU_INT8 = "DEVICE", "TILE_SIZE", "OVERLAP", "BATCH_SIZE", "CPU_INT8"
    OUTPUT = "OUTPUT"

    def name(self):
        return "segment_many"

    def displayName(self):  # noqa: N802 (QGIS API)
        return "Land cover / flood mapping, many scenes or a large mosaic (Dask)"

    def group(self):
        return "Land cover"

    def groupId(self):  # noqa: N802
        return "landcover"

    def shortHelpString(self):  # noqa: N802
        return flowing(HELP)

    def icon(self):
        return QIcon(SEGMENT_ICON)

    def tags(self):
        return ["edc", "land cover", "flood", "batch", "mosaic", "dask", "distributed", "cluster"]

    def createInstance(self):  # noqa: N802
        return SegmentManyAlgorithm()

    def initAlgorithm(self, config=None):  # noqa: N802
        self.addParameter(QgsProcessingParameterFile(self.PAIRS, "List of pairs (CSV: optical,sar[,name])",
                                                     QgsProcessingParameterFile.File, "csv", None, True,
                                                     "CSV files (*.csv *.CSV);;All files (*)"))
        for name, label in ((self.OPTICAL, "Optical raster of one large scene"),
                            (self.SAR, "SAR raster of one large scene")):
            self.addParameter(QgsProcessingParameterFile(name, label, QgsProcessingParameterFile.File, "", None,
                                                         True, "Rasters (*.tif *.tiff *.vrt *.TIF);;All files (*)"))
        self.addParameter(QgsProcessingParameterFile(
            self.WEIGHTS, "Weights file (empty = bundled default)", QgsProcessingParameterFile.File, "", None, True,
            WEIGHTS_FILTER))
        self.addParameter(QgsProcessingParameterNumber(self.BLOCK_SIZE, "Block size in pixels (one large scene)",
                                                       QgsProcessingParameterNumber.Integer, DEFAULT_BLOCK, False, 32,
                                                       65536))
        self.addParameter(QgsProcessingParameterBoolean(self.COG, "Assemble one Cloud-Optimized GeoTIFF", True))
        self.addParameter(QgsProcessingParameterNumber(self.WORKERS, "Worker processes (0 = one per core)",
                                                       QgsProcessingParameterNumber.Integer, 0, False, 0, 1024))
        self.addParameter(QgsProcessingParameterEnum(self.DEVICE, "Device", [label for _, label in DEVICES],
                                                     defaultValue=0))
        advanced = [QgsProcessingParameterNumber(self.THREADS, "Threads per worker (0 = the cores shared out)",
                                                 QgsProcessingParameterNumber.Integer, 0, False, 0, 1024),
                    QgsProcessingParameterString(self.SCHEDULER, "Dask scheduler address (empty = this machine)",
                                                 "", False, True)]
        for name, label in ((self.TILE_SIZE, "Tile size in pixels (0 = from the weights)"),
                            (self.OVERLAP, "Tile overlap in pixels (0 = from the weights)"),
                            (self.BATCH_SIZE, "Batch size (0 = automatic)")):
            advanced.append(QgsProcessingParameterNumber(name, label, QgsProcessingParameterNumber.Integer, 0, False,
                                                         0, 8192 if name != self.BATCH_SIZE else 256))
        advanced.append(common.cpu_int8_parameter(self.CPU_INT8))
        for param in advanced:
            param.setFlags(param.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
            self.addParameter(param)
        self.addParameter(QgsProcessingParameterFolderDestination(self.OUTPUT, "Output folder"))
        self.addOutput(QgsProcessingOutputString("MOSAIC", "Mosaic (COG, or VRT) of one large scene"))
        self.addOutput(QgsProcessingOutputNumber("DONE", "Blocks or pairs done (this run and earlier ones)"))
        self.addOutput(QgsProcessingOutputNumber("FAILED", "Blocks or pairs that failed"))
        self.addOutput(QgsProcessingOutputString("FAILURES", "Failures: name and reason (JSON)"))
        self.addOutput(QgsProcessingOutputString("CLASS_STATS", "Per-class pixel counts and areas, m² and ha (JSON)"))

    def _options(self, parameters, context):
        from ..model.distributed import ManyOptions
        from ..model.distributed.pairs import read_pairs
        pairs_file = self.parameterAsFile(parameters, self.PAIRS, context)
        optical = self.parameterAsFile(parameters, self.OPTICAL, context)
        sar = self.parameterAsFile(parameters, self.SAR, context)
        folder = self.parameterAsString(parameters, self.OUTPUT, context)
        os.makedirs(folder, exist_ok=True)
        ints = {n: self.parameterAsInt(parameters, n, context) for n in (self.TILE_SIZE, self.OVERLAP,
                                                                        self.BATCH_SIZE, self.WORKERS, self.THREADS)}
        settings = dict(tile_size=ints[self.TILE_SIZE] or None, overlap=ints[self.OVERLAP] or None,
                        batch_size=ints[self.BATCH_SIZE] or None,
                        device=DEVICES[self.parameterAsEnum(parameters, self.DEVICE, context)][0],
                        cpu_int8=self.parameterAsBool(parameters, self.CPU_INT8, context))
        weights = self.parameterAsFile(parameters, self.WEIGHTS, context) or common.DEFAULT_WEIGHTS
        stem = os.path.splitext(os.path.basename(optical))[0] if optical else ""
        return ManyOptions(weights, folder if pairs_file else os.path.join(folder, f"{stem}.tif"),
                           pairs=read_pairs(pairs_file) if pairs_file else None, optical=optical or None,
                           sar=sar or None, block_size=self.parameterAsInt(parameters, self.BLOCK_SIZE, context),
                           cog=self.parameterAsBool(parameters, self.COG, context),
                           workers=ints[self.WORKERS] or None, threads_per_worker=ints[self.THREADS] or None,
                           scheduler=self.parameterAsString(parameters, self.SCHEDULER, context).strip() or None,
                           settings=settings)

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        from ..model.distributed import segment_many  # heavy imports only when the algorithm runs
        try:
            options = self._options(parameters, context)
            result = segment_many(options, progress=lambda done, total: feedback.setProgress(100.0 * done / total),
                                  is_cancelled=feedback.isCanceled, log=feedback.pushInfo)
        except EDCError as exc:
            raise QgsProcessingException(str(exc)) from None
        for name, reason in result.failed:
            feedback.reportError(f"{name}: {reason}", False)
        if not result.done and not result.skipped:
            raise QgsProcessingException(f"Nothing could be mapped: {len(result.failed)} failed (see the log).")
        feedback.pushInfo(f"Done: {len(result.done)} now, {len(result.skipped)} earlier; failed: "
                          f"{len(result.failed)}; {result.megapixels:.2f} Mpx in {result.seconds:.1f} s "
                          f"({result.megapixels_per_second:.3f} Mpx/s).")
        for stats in result.class_stats:
            area = "" if stats["area_ha"] is None else f", {stats['area_ha']:.2f} ha"
            feedback.pushInfo(f"{stats['name']}: {stats['pixels']} pixels{area}")
        return {self.OUTPUT: self.parameterAsString(parameters, self.OUTPUT, context),
                "MOSAIC": result.cog or result.mosaic, "DONE": len(result.done) + len(result.skipped),
                "FAILED": len(result.failed),
                "FAILURES": json.dumps([{"name": n, "reason": r} for n, r in result.failed]),
                "CLASS_STATS": json.dumps(result.class_stats)}
