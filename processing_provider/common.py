"""What the QGIS layer's modules share: the plugin folder and its resources, and the device choices."""

import os

from ..model.vocabulary import DEVICES as DEVICE_IDS

PLUGIN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESOURCES = os.path.join(PLUGIN_DIR, "resources")
DEFAULT_WEIGHTS = os.path.join(RESOURCES, "edc_default.pt")
PROVIDER_ICON = os.path.join(RESOURCES, "icon.svg")
SEGMENT_ICON = os.path.join(RESOURCES, "segment.svg")

_DEVICE_LABELS = {"auto": "Automatic (CUDA when available, else CPU)", "cpu": "CPU", "cuda": "CUDA (NVIDIA GPU)"}
DEVICES = [(device, _DEVICE_LABELS[device]) for device in DEVICE_IDS]  # (id, label) in the enum's order
