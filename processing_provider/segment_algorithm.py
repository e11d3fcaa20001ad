"""``edc:segment``: land cover and flood water from an optical + SAR raster pair with an EDC model."""

import json
import os

from qgis.core import (QgsProcessingAlgorithm, QgsProcessingException, QgsProcessingOutputNumber,
                       QgsProcessingOutputString, QgsProcessingParameterBand, QgsProcessingParameterDefinition,
                       QgsProcessingParameterEnum, QgsProcessingParameterExtent, QgsProcessingParameterFile,
                       QgsProcessingParameterNumber, QgsProcessingParameterRasterDestination,
                       QgsProcessingParameterRasterLayer)
from qgis.PyQt.QtGui import QIcon

from ..model.errors import EDCError
from . import common
from .common import DEVICES, OUTPUT_GRID_CHOICES, RESOLUTION_CHOICES, SAR_UNIT_CHOICES, SEGMENT_ICON, flowing
from .styling import LandCoverPostProcessor

OPTIONAL_OUTPUTS = [("CONFIDENCE", "Confidence (probability of the chosen class)", "confidence"),
                    ("CLOUDFREE", "Cloud-free optical estimate", "cloudfree"),
                    ("RELIABILITY", "Optical reliability (how much the model trusted the optical image)",
                     "reliability")]

HELP = """<p>Maps land cover and flood water from an <b>optical</b> raster and a <b>SAR</b> raster of the same area
with an EDC network (tri-stream encoder, SAR-optical fusion and a cloud-removal branch), so that clouds in the optical
image are filled in from the SAR image.</p>
<h3>Inputs</h3>
<ul>
<li><b>Optical layer</b> and <b>SAR layer</b>: any GDAL raster, any CRS, resolution and data type. The output is
on the optical raster's grid; the SAR raster is resampled onto it on the fly. Pixels where either input is nodata
are nodata (255) in the output.</li>
<li><b>Optical bands</b> / <b>SAR bands</b>: the bands fed to the model, in the order the weights expect. Leave
empty to use the default bands stored in the weights file.</li>
<li><b>Weights file</b>: an EDC <code>.pt</code> / <code>.pth</code> (PyTorch) or <code>.onnx</code> (ONNX Runtime)
file, suffix in any case. Empty = the bundled default weights. ONNX weights need only onnxruntime, not PyTorch.</li>
<li><b>Processing extent</b>: optional; the output is cropped to it and to where both inputs exist. The
normalisation statistics always come from the whole overlap of the two rasters, and the network also reads up to 32
of its pixels around the extent, so that a pixel gets the class of a run over the whole overlap whatever extent is
drawn (to about 1 %).</li>
<li><b>SAR units</b>: <i>Automatic</i> tells decibels from linear backscatter (power, amplitude, complex SLC samples)
by the band names (such as <code>Sigma0_VV_db</code>) and the values, and converts linear values to decibels as the
weights expect; the log says what was assumed and why. Choose the units to override it.</li>
<li><b>Processing resolution</b>: the network works best at the resolution its weights were trained at (10 m
for the bundled weights). Where the optical pixels are more than 1.5 times larger or smaller, the inputs are read at
the weights' resolution by default (averaged where they shrink) and the map is brought back onto the optical grid
(nearest), or written at the model's resolution (<b>Write the map on</b>); a warning says so. Choose the optical
raster's own pixels to map pixel for pixel.</li>
<li>Values that fill an area although the file declares no nodata (a -9999 or 0 border) are treated as nodata, with
a warning naming the value; a band without signal is an error.</li>
<li>Advanced: <b>tile size</b>, <b>tile overlap</b> (0 = the values stored in the weights) and <b>batch size</b>
(0 = automatic). The scene is processed tile by tile, so memory use does not grow with its size.</li>
<li><b>Device</b>: <i>Automatic</i> uses an NVIDIA GPU through CUDA when PyTorch (for .pt) or ONNX Runtime (for
.onnx) can use one, otherwise the CPU; <i>CUDA</i> fails with a clear message when no GPU is usable. The device
actually used is written to the log. On the CPU, ONNX weights run their matrix products in int8 (5-13 % less
network time; on the OMBRIA test split the same flood-water IoU within 0.001); the advanced <b>int8 matrix
products</b> switch turned off computes in float32 throughout, as a GPU does.</li>
</ul>
<h3>Outputs</h3>
<ul>
<li><b>Land cover</b>: a compressed, tiled GeoTIFF (Byte) with a colour table, class names and a .qml style; it is
added to the map with a legend of class names.</li>
<li>Optional: <b>confidence</b>, <b>cloud-free optical estimate</b> and <b>reliability</b> rasters.</li>
<li>Per-class pixel counts and true areas (on the ellipsoid, in m² and ha, whatever the CRS; none when the optical
layer has no CRS), in the log and in the <code>CLASS_STATS</code> output (JSON); <code>VALID_AREA</code> in m².</li>
</ul>
<p>Cancelling or an error leaves no output file behind.</p>"""


# QGIS 3.22 accepts a file parameter only when its suffix is one of the filter's, compared case-sensitively (".ONNX"
# and ".pth" were refused with a bare "Incorrect parameter value"), unless the filter has an "All files (*)" entry:
# with it QGIS accepts any name and open_weights() decides by the suffix in any case, with a message for other ones.
WEIGHTS_FILTER = "EDC weights (*.pt *.pth *.onnx *.PT *.PTH *.ONNX);;All files (*)"


class SegmentAlgorithm(QgsProcessingAlgorithm):
    """Runs :func:`model.inference.segment` on the source files of two raster layers."""

    OPTICAL, SAR = "OPTICAL", "SAR"
    OPTICAL_BANDS, SAR_BANDS = "OPTICAL_BANDS", "SAR_BANDS"
    WEIGHTS, EXTENT, DEVICE, SAR_UNITS = "WEIGHTS", "EXTENT", "DEVICE", "SAR_UNITS"
    RESOLUTION, OUTPUT_GRID = "RESOLUTION", "OUTPUT_GRID"
    TILE_SIZE, OVERLAP, BATCH_SIZE, CPU_INT8 = "TILE_SIZE", "OVERLAP", "BATCH_SIZE", "CPU_INT8"
    OUTPUT = "OUTPUT"

    def __init__(self):
        super().__init__()
        self._inputs = {}
        self._output = None

    def name(self):
        return "segment"

    def displayName(self):  # noqa: N802 (QGIS API)
        return "Land cover / flood mapping (optical + SAR)"

    def group(self):
        return "Land cover"

    def groupId(self):  # noqa: N802
        return "landcover"

    def shortHelpString(self):  # noqa: N802
        return flowing(HELP)

    def icon(self):
        return QIcon(SEGMENT_ICON)

    def tags(self):
        return ["edc", "land cover", "flood", "water", "sar", "optical", "cloud", "segmentation", "deep learning"]

    def createInstance(self):  # noqa: N802
        return SegmentAlgorithm()

    def initAlgorithm(self, config=None):  # noqa: N802
        self.addParameter(QgsProcessingParameterRasterLayer(self.OPTICAL, "Optical layer"))
        self.addParameter(QgsProcessingParameterRasterLayer(self.SAR, "SAR layer"))
        self.addParameter(QgsProcessingParameterBand(
            self.OPTICAL_BANDS, "Optical bands (empty = as the weights expect)", None, self.OPTICAL, True, True))
        self.addParameter(QgsProcessingParameterBand(
            self.SAR_BANDS, "SAR bands (empty = as the weights expect)", None, self.SAR, True, True))
        self.addParameter(QgsProcessingParameterFile(
            self.WEIGHTS, "Weights file (empty = bundled default)", QgsProcessingParameterFile.File, "", None, True,
            WEIGHTS_FILTER))
        self.addParameter(QgsProcessingParameterExtent(self.EXTENT, "Processing extent", optional=True))
        self.addParameter(QgsProcessingParameterEnum(
            self.SAR_UNITS, "SAR units", [label for _, label in SAR_UNIT_CHOICES], defaultValue=0))
        self.addParameter(QgsProcessingParameterEnum(
            self.RESOLUTION, "Processing resolution", [label for _, label in RESOLUTION_CHOICES], defaultValue=0))
        self.addParameter(QgsProcessingParameterEnum(
            self.OUTPUT_GRID, "Write the map on", [label for _, label in OUTPUT_GRID_CHOICES], defaultValue=0))
        self.addParameter(QgsProcessingParameterEnum(
            self.DEVICE, "Device", [label for _, label in DEVICES], defaultValue=0))
        for name, label in ((self.TILE_SIZE, "Tile size in pixels (0 = from the weights)"),
                            (self.OVERLAP, "Tile overlap in pixels (0 = from the weights)"),
                            (self.BATCH_SIZE, "Batch size (0 = automatic)")):
            param = QgsProcessingParameterNumber(name, label, QgsProcessingParameterNumber.Integer, 0, False, 0,
                                                 8192 if name != self.BATCH_SIZE else 256)
            param.setFlags(param.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
            self.addParameter(param)
        self.addParameter(common.cpu_int8_parameter(self.CPU_INT8))
        self.addParameter(QgsProcessingParameterRasterDestination(self.OUTPUT, "Land cover"))
        for name, label, _ in OPTIONAL_OUTPUTS:
            self.addParameter(QgsProcessingParameterRasterDestination(name, label, optional=True,
                                                                      createByDefault=False))
        self.addOutput(QgsProcessingOutputString("CLASS_STATS", "Per-class pixel counts and areas, m² and ha (JSON)"))
        self.addOutput(QgsProcessingOutputNumber("VALID_PIXELS", "Mapped (non-nodata) pixels"))
        self.addOutput(QgsProcessingOutputNumber("VALID_AREA", "Mapped area (m² on the ellipsoid; none without CRS)"))
        self.addOutput(QgsProcessingOutputString("DEVICE_USED", "Device used"))

    def _source_path(self, parameters, name, label, context):
        layer = self.parameterAsRasterLayer(parameters, name, context)
        if layer is None or not layer.isValid():
            raise QgsProcessingException(f"The {label} layer could not be opened; choose a raster layer or file.")
        if layer.providerType() != "gdal":
            raise QgsProcessingException(
                f"The {label} layer '{layer.name()}' is not a file GDAL can read (it comes from the "
                f"'{layer.providerType()}' provider); save it as a GeoTIFF first (Raster > Conversion > Translate).")
        return layer

    def prepareAlgorithm(self, parameters, context, feedback):  # noqa: N802
        """Main thread: turn layers into file paths so the worker thread only opens files with GDAL."""
        optical = self._source_path(parameters, self.OPTICAL, "optical", context)
        sar = self._source_path(parameters, self.SAR, "SAR", context)
        extent = self.parameterAsExtent(parameters, self.EXTENT, context, optical.crs())
        given = parameters.get(self.EXTENT) not in (None, "")  # a given zero-size extent is an error, not "none"
        self._inputs = {
            "optical": optical.source(), "sar": sar.source(),
            "extent": (extent.xMinimum(), extent.yMinimum(), extent.xMaximum(), extent.yMaximum())
            if given or not (extent.isNull() or extent.isEmpty()) else None,
        }
        return True

    def _weights_path(self, parameters, context):
        path = self.parameterAsFile(parameters, self.WEIGHTS, context)
        if path:
            return path
        if not os.path.isfile(common.DEFAULT_WEIGHTS):
            raise QgsProcessingException(
                "No weights file was given and the bundled default weights (resources/edc_default.onnx) are not "
                "installed; choose an EDC weights file (.onnx or .pt) in 'Weights file'.")
        return common.DEFAULT_WEIGHTS

    def _destination(self, parameters, name, label, context):
        path = self.parameterAsOutputLayer(parameters, name, context)
        if path and os.path.splitext(path)[1].lower() not in (".tif", ".tiff"):
            raise QgsProcessingException(f"The '{label}' output must be a GeoTIFF file (.tif), not '{path}'.")
        return path or None

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        from ..model.inference import SegmentOptions, segment  # heavy imports only when the algorithm runs

        output = self._output = self._destination(parameters, self.OUTPUT, "Land cover", context)
        extra = {key: self._destination(parameters, name, label, context) for name, label, key in OPTIONAL_OUTPUTS}
        ints = {name: self.parameterAsInt(parameters, name, context)
                for name in (self.TILE_SIZE, self.OVERLAP, self.BATCH_SIZE)}
        try:
            options = SegmentOptions(
                self._inputs["optical"], self._inputs["sar"], self._weights_path(parameters, context), output,
                optical_bands=self.parameterAsInts(parameters, self.OPTICAL_BANDS, context) or None,
                sar_bands=self.parameterAsInts(parameters, self.SAR_BANDS, context) or None,
                extent=self._inputs["extent"], tile_size=ints[self.TILE_SIZE] or None,
                overlap=ints[self.OVERLAP] or None, batch_size=ints[self.BATCH_SIZE] or None,
                device=DEVICES[self.parameterAsEnum(parameters, self.DEVICE, context)][0],
                sar_units=SAR_UNIT_CHOICES[self.parameterAsEnum(parameters, self.SAR_UNITS, context)][0],
                resolution=RESOLUTION_CHOICES[self.parameterAsEnum(parameters, self.RESOLUTION, context)][0],
                output_grid=OUTPUT_GRID_CHOICES[self.parameterAsEnum(parameters, self.OUTPUT_GRID, context)][0],
                cpu_int8=self.parameterAsBool(parameters, self.CPU_INT8, context), **extra)
            result = segment(options, progress=feedback.setProgress, is_cancelled=feedback.isCanceled,
                             log=feedback.pushInfo)
        except EDCError as exc:
            raise QgsProcessingException(str(exc)) from None
        return self._report(result, output, extra, feedback)

    def _report(self, result, output, extra, feedback):
        feedback.pushInfo(f"Device used: {result.device}")
        if getattr(result, "trained", True) is False:
            feedback.pushWarning("These weights are UNTRAINED (randomly initialised): the map is not meaningful.")
        stats_list = result.class_stats
        measured = all(s["area_m2"] is not None for s in stats_list)
        for stats in stats_list:
            area = f"{stats['area_ha']:.2f} ha" if measured else "no area (the output has no CRS)"
            feedback.pushInfo(f"{stats['name']}: {stats['pixels']} pixels, {area}")
        results = {self.OUTPUT: output,
                   "CLASS_STATS": json.dumps(stats_list),
                   "VALID_PIXELS": sum(s["pixels"] for s in stats_list),
                   "VALID_AREA": sum(s["area_m2"] for s in stats_list) if measured else None,
                   "DEVICE_USED": result.device}
        results.update({name: extra[key] for name, _, key in OPTIONAL_OUTPUTS if extra[key]})
        return results

    def postProcessAlgorithm(self, context, feedback):  # noqa: N802
        """Main thread: attach the styler to the land-cover layer Processing is about to add to the project."""
        if self._output and context.willLoadLayerOnCompletion(self._output):
            context.layerToLoadOnCompletionDetails(self._output).setPostProcessor(LandCoverPostProcessor.create())
        return {}
