"""The QGIS Processing side of EDC for QGIS: the ``edc`` provider and its algorithms."""
