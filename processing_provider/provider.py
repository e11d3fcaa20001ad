"""The ``edc`` Processing provider."""

from qgis.core import QgsProcessingProvider
from qgis.PyQt.QtGui import QIcon

from .common import PROVIDER_ICON
from .segment_algorithm import SegmentAlgorithm
from .segment_many_algorithm import SegmentManyAlgorithm
from .train_algorithm import TrainAlgorithm


class EDCProvider(QgsProcessingProvider):
    def id(self):
        return "edc"

    def name(self):
        return "EDC"

    def longName(self):  # noqa: N802 (QGIS API)
        return "EDC land cover and flood mapping (optical + SAR)"

    def icon(self):
        return QIcon(PROVIDER_ICON)

    def supportedOutputRasterLayerExtensions(self):  # noqa: N802
        return ["tif"]

    def loadAlgorithms(self):  # noqa: N802
        for algorithm in (SegmentAlgorithm(), SegmentManyAlgorithm(), TrainAlgorithm()):
            self.addAlgorithm(algorithm)
