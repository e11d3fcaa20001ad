"""The provider, the algorithm's interface, and the plugin's load/unload."""

from qgis.core import QgsApplication, QgsProcessingAlgorithm, QgsProcessingParameterDefinition


def test_provider_registers_segment(provider):
    registry = QgsApplication.processingRegistry()
    assert registry.providerById("edc") is provider
    alg = registry.algorithmById("edc:segment")
    assert alg is not None and alg.provider().id() == "edc"
    assert not alg.icon().isNull() and not provider.icon().isNull()
    assert not alg.flags() & QgsProcessingAlgorithm.FlagNoThreading
    names = [p.name() for p in alg.parameterDefinitions()]
    assert names == ["OPTICAL", "SAR", "OPTICAL_BANDS", "SAR_BANDS", "WEIGHTS", "EXTENT", "SAR_UNITS", "RESOLUTION",
                     "OUTPUT_GRID", "DEVICE", "TILE_SIZE", "OVERLAP", "BATCH_SIZE", "CPU_INT8", "OUTPUT", "CONFIDENCE",
                     "CLOUDFREE", "RELIABILITY"]
    params = {p.name(): p for p in alg.parameterDefinitions()}
    for name in ("OPTICAL_BANDS", "SAR_BANDS", "WEIGHTS", "EXTENT", "CONFIDENCE", "CLOUDFREE", "RELIABILITY"):
        assert params[name].flags() & QgsProcessingParameterDefinition.FlagOptional, name
    for name in ("CONFIDENCE", "CLOUDFREE", "RELIABILITY"):
        assert not params[name].createByDefault(), name
    for name in ("TILE_SIZE", "OVERLAP", "BATCH_SIZE", "CPU_INT8"):
        assert params[name].flags() & QgsProcessingParameterDefinition.FlagAdvanced, name
    assert params["CPU_INT8"].defaultValue() is True and "int8" in params["CPU_INT8"].description()
    assert params["OPTICAL_BANDS"].allowMultiple() and params["OPTICAL_BANDS"].parentLayerParameterName() == "OPTICAL"
    assert params["DEVICE"].options()[1:] == ["CPU", "CUDA (NVIDIA GPU)"]
    outputs = {o.name() for o in alg.outputDefinitions()}
    assert {"OUTPUT", "CLASS_STATS", "VALID_PIXELS", "VALID_AREA", "DEVICE_USED"} <= outputs
    help_text = alg.shortHelpString()
    for word in ("Optical bands", "Weights file", "bundled default", "CUDA", "CPU", "confidence", "reliability",
                 "cloud-free", "nodata", "int8 matrix products"):
        assert word in help_text, word


def test_plugin_loads_and_unloads(edc, qgis_iface, monkeypatch):
    import processing
    from qgis.PyQt.QtWidgets import QMessageBox

    asked = []  # every question box the plugin opens, answered "Cancel"
    monkeypatch.setattr(QMessageBox, "exec_", lambda box: asked.append(box.text()) or QMessageBox.Cancel)
    registry = QgsApplication.processingRegistry()
    provider = registry.providerById("edc")
    if provider is not None:  # another test may have registered one: the plugin must bring its own
        assert registry.removeProvider(provider)
    plugin = edc.classFactory(qgis_iface)
    plugin.initProcessing()
    plugin.initGui()
    try:
        assert asked == []  # loading asks nothing
        assert registry.algorithmById("edc:segment") is not None
        assert plugin.action.icon() is not None and plugin.action in plugin.toolbar.actions()
        qgis_iface.addPluginToRasterMenu.assert_any_call("&EDC", plugin.action)
        qgis_iface.addPluginToRasterMenu.assert_any_call("&EDC", plugin.install_action)
        assert plugin.install_action.text() == "Install Python dependencies…"
        opened = []
        monkeypatch.setattr(processing, "execAlgorithmDialog", lambda alg_id, params: opened.append(alg_id))
        plugin.action.trigger()
        assert opened == ["edc:segment"]
        plugin.install_action.trigger()  # asks; "Cancel" starts nothing
        assert len(asked) == 1 and "ONNX Runtime" in asked[0] and plugin.install_task is None
    finally:
        plugin.unload()
    assert registry.providerById("edc") is None
    assert plugin.action is None and plugin.install_action is None and plugin.toolbar is None
    qgis_iface.removePluginRasterMenu.assert_called()


def test_provider_lists_segment_and_train(provider):
    provider.refreshAlgorithms()
    assert sorted(a.id() for a in provider.algorithms()) == ["edc:segment", "edc:segment_many", "edc:train"]


def test_help_flows_as_paragraphs(provider):
    """QGIS shows every newline of a help string as a line break: the help has none, only HTML structure."""
    for alg_id in ("edc:segment", "edc:train"):
        text = QgsApplication.processingRegistry().algorithmById(alg_id).shortHelpString()
        assert "\n" not in text and text.count("<p>") >= 1 and "  " not in text, alg_id
