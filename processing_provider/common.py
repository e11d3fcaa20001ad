"""What the QGIS layer's modules share: the plugin folder and its resources, and the device choices."""

import os

from ..model.vocabulary import DEVICES as DEVICE_IDS
from ..model.vocabulary import CPU_INT8, DEFAULT_WEIGHTS_FILE, OUTPUT_GRIDS, RESOLUTIONS, SAR_UNITS

PLUGIN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESOURCES = os.path.join(PLUGIN_DIR, "resources")
DEFAULT_WEIGHTS = os.path.join(RESOURCES, DEFAULT_WEIGHTS_FILE)
PROVIDER_ICON = os.path.join(RESOURCES, "icon.svg")
SEGMENT_ICON = os.path.join(RESOURCES, "segment.svg")

_DEVICE_LABELS = {"auto": "Automatic (CUDA when available, else CPU)", "cpu": "CPU", "cuda": "CUDA (NVIDIA GPU)"}
DEVICES = [(device, _DEVICE_LABELS[device]) for device in DEVICE_IDS]  # (id, label) in the enum's order

_SAR_UNIT_LABELS = {"auto": "Automatic (from band names and values)", "dB": "Decibels (dB)",
                    "linear power": "Linear power (intensity, sigma0)", "amplitude": "Linear amplitude"}
SAR_UNIT_CHOICES = [(units, _SAR_UNIT_LABELS[units]) for units in SAR_UNITS]  # (id, label) in the enum's order

_RESOLUTION_LABELS = {"weights": "The weights' resolution (resample the inputs where they differ)",
                      "native": "The optical raster's own pixels"}
RESOLUTION_CHOICES = [(r, _RESOLUTION_LABELS[r]) for r in RESOLUTIONS]
_OUTPUT_GRID_LABELS = {"optical": "The optical raster's grid", "model": "The grid the network ran on"}
OUTPUT_GRID_CHOICES = [(g, _OUTPUT_GRID_LABELS[g]) for g in OUTPUT_GRIDS]


CPU_INT8_LABEL = "On the CPU, int8 matrix products (faster; off: float32 throughout)"


def cpu_int8_parameter(name):
    """The mapping algorithms' advanced switch for int8 matrix products on the CPU (on by default)."""
    from qgis.core import QgsProcessingParameterBoolean, QgsProcessingParameterDefinition
    param = QgsProcessingParameterBoolean(name, CPU_INT8_LABEL, CPU_INT8)
    param.setFlags(param.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
    return param


def flowing(html):
    """``html`` with its source line breaks turned into spaces: QGIS's help panes show every newline of a help
    string as a line break, which cut sentences mid-line; the tags alone make the paragraphs and lists."""
    return " ".join(html.split())
