"""Exceptions raised by the EDC core.

Every error a user can trigger is an :class:`EDCError`; its message names the input that is wrong and says what to
do.  The QGIS layer shows the message as it is, without a traceback.
"""

from contextlib import contextmanager


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


WRITE_HINT = "check that the output folder has free space and is writable, then run again"


@contextmanager
def reported_as_input_error(what, hint, kinds=(RuntimeError, OSError)):
    """Turn GDAL / OS / runtime errors raised inside into an EDCInputError that says what failed and what to do."""
    try:
        yield
    except EDCError:
        raise
    except kinds as exc:
        detail = " ".join(str(exc).split())[:300] or type(exc).__name__
        raise EDCInputError(f"{what} failed ({detail}); {hint}.") from exc
