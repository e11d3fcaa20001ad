"""Paletted styling of EDC land-cover rasters from the class table the output file carries."""

from osgeo import gdal
from qgis.core import QgsPalettedRasterRenderer, QgsProcessingLayerPostProcessorInterface, QgsRasterLayer
from qgis.PyQt.QtGui import QColor

NODATA = 255


def classes_from_raster(path):
    """(value, name, QColor) for every named class of band 1 of an EDC output, read from its GDAL metadata."""
    dataset = gdal.Open(str(path))
    if dataset is None:
        return []
    band = dataset.GetRasterBand(1)
    band.GetMetadata()  # GDAL 3.6 GTiff loads the .aux.xml (where category names live) lazily, not on this call:
    names = band.GetCategoryNames() or []
    table = band.GetColorTable()
    classes = []
    for value, name in enumerate(names):
        if value == NODATA or not name:
            continue
        rgba = table.GetColorEntry(value) if table is not None and value < table.GetCount() else (128, 128, 128, 255)
        classes.append((value, name, QColor(*rgba[:3])))
    return classes


def apply_land_cover_style(layer, classes=None):
    """Give ``layer`` a paletted renderer with one legend entry per class; return True when styled."""
    if not isinstance(layer, QgsRasterLayer) or not layer.isValid():
        return False
    classes = classes if classes is not None else classes_from_raster(layer.source())
    if not classes:
        return False
    palette = [QgsPalettedRasterRenderer.Class(value, color, name) for value, name, color in classes]
    layer.setRenderer(QgsPalettedRasterRenderer(layer.dataProvider(), 1, palette))
    layer.triggerRepaint()
    return True


class LandCoverPostProcessor(QgsProcessingLayerPostProcessorInterface):
    """Styles the land-cover layer once Processing has added it to the project (GUI, modeler, task runs)."""

    _alive = []  # Processing keeps only a C++ pointer: the Python objects must outlive the run

    @classmethod
    def create(cls, classes=None):
        processor = cls(classes)
        cls._alive.append(processor)
        return processor

    def __init__(self, classes=None):
        super().__init__()
        self._classes = classes

    def postProcessLayer(self, layer, context, feedback):  # noqa: N802 (QGIS API)
        if apply_land_cover_style(layer, self._classes):
            feedback.pushInfo(f"Styled {layer.name()} with {len(layer.renderer().classes())} land-cover classes.")
