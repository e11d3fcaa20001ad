"""SIGTERM during a run: the run stops as if cancelled, so that nothing half-written is left behind."""

import signal
import threading
from contextlib import contextmanager

from ..errors import EDCCancelled


@contextmanager
def terminated_as_cancel():
    """SIGTERM raises EDCCancelled for the duration of the block, so the run's cleanup removes its temporary files;
    the previous handler is restored after.  Only where Python may handle signals: in the main thread (a script,
    ``qgis_process``) and where the current handler is Python's (or the default); elsewhere (QGIS's worker thread)
    nothing changes, and the next run removes files left for more than a day (:func:`writers.sweep_stale_parts`)."""
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) is None:
        yield
        return
    fired = []

    def on_sigterm(_signum, _frame):
        if not fired:  # once: a second signal must not interrupt the cleanup of the first
            fired.append(True)
            raise EDCCancelled("Stopped by a termination signal (SIGTERM); no output was written.")

    try:
        previous = signal.signal(signal.SIGTERM, on_sigterm)
    except (ValueError, OSError):  # not the main interpreter
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
