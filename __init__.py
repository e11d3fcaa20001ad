"""EDC for QGIS: land cover and flood mapping from optical + SAR rasters (QGIS plugin entry point)."""


def classFactory(iface):  # noqa: N802 (QGIS API)
    from .edc_plugin import EDCPlugin
    return EDCPlugin(iface)
