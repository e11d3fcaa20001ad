"""Exceptions raised by the EDC core.

Every error a user can trigger is an :class:`EDCError`; its message names the input that is wrong and says what to
do.  The QGIS layer shows the message as it is, without a traceback.
"""


class EDCError(Exception):
    """Base class of all errors the core raises on purpose."""


class EDCInputError(EDCError):
    """A raster, band, extent or parameter given by the user cannot be used."""


class EDCWeightsError(EDCError):
    """A weights file is missing, corrupt or does not describe a usable model."""


class EDCDependencyError(EDCError):
    """An optional heavy dependency (PyTorch, ONNX Runtime) is not installed."""


class EDCDatasetError(EDCError):
    """A training dataset folder is empty, unpaired or mislabelled."""


class EDCCancelled(EDCError):
    """The user cancelled the run."""
