"""The Python packages EDC needs (ONNX Runtime, PyTorch), installed with pip into QGIS's own Python from the plugin
(*Raster > EDC > Install Python dependencies…*) or by ``make install``.  Everything here but ``task.py`` imports no
QGIS, so it runs in tests and scripts without QGIS."""
