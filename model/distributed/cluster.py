"""The Dask cluster a run uses: an embedded ``LocalCluster`` of worker processes (the default: all cores, one
predictor per worker), or an existing cluster reached at its scheduler's address.

Worker processes are started with ``multiprocessing``'s *spawn*, which runs ``sys.executable``: inside QGIS that is
``qgis`` or ``qgis_process.bin``, not Python, so :func:`worker_python` finds the Python interpreter of the same
installation and the cluster is started with it."""

import os
import sys
import sysconfig
from contextlib import contextmanager
from pathlib import Path

from ..dependencies import import_distributed
from ..errors import EDCInputError


def worker_python(executable=None, bindir=None, prefix=None, stdlib=None):
    """The Python interpreter worker processes must run: one of the installation whose standard library this process
    runs on (``stdlib``: the folder of ``os.py``): ``executable`` (``sys.executable``) where it is one of it, else
    its ``python3.X`` (``bindir``: ``sysconfig``'s BINDIR), else ``python.exe`` in ``prefix`` (``sys.exec_prefix``,
    Windows' layout).  Inside QGIS ``sys.executable`` is QGIS itself, or a Python an embedded interpreter found on
    PATH whose library is another one.  None where none is found."""
    stdlib = Path(stdlib if stdlib is not None else os.path.dirname(os.__file__)).resolve()
    executable = executable if executable is not None else sys.executable
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    bindir = Path(bindir if bindir is not None else sysconfig.get_config_var("BINDIR") or "")
    prefix = Path(prefix if prefix is not None else sys.exec_prefix)
    candidates = [Path(executable)] if executable else []
    candidates += [bindir / version, bindir / "python3", prefix / "python.exe", prefix / "python3.exe"]
    for candidate in candidates:
        if (candidate.name.lower().startswith("python") and candidate.is_file() and os.access(candidate, os.X_OK)
                and _uses(candidate, stdlib)):
            return str(candidate)
    return None


def _uses(python, stdlib):
    """Whether the interpreter ``python`` is of the installation whose standard library is ``stdlib``."""
    home = Path(python).resolve().parent
    folders = [f for f in (home, home.parent) if f != f.parent]  # never the root: every path is below it
    return any(stdlib == folder or folder in stdlib.parents for folder in folders)


def local_threads(workers, cores=None):
    """Threads each of ``workers`` local workers' network uses: the cores shared out, at least one."""
    cores = cores or os.cpu_count() or 1
    return max(1, cores // max(1, workers))


@contextmanager
def dask_client(workers=None, scheduler=None, log=print):
    """A connected ``distributed.Client`` and the number of workers: on the cluster whose scheduler listens at
    ``scheduler``, or on a new local cluster of ``workers`` processes (None: one per core), each running one task at
    a time.  The local workers are still starting when this yields (tasks submitted meanwhile wait for them), so that
    starting them overlaps with the caller's own preparation.  The local cluster is closed (its workers stopped) on
    leaving."""
    distributed = import_distributed()
    if scheduler:
        try:
            client = distributed.Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise EDCInputError(f"No Dask scheduler answered at '{scheduler}' ({exc}); start one ('dask scheduler') "
                                "or leave the scheduler address empty to run on this machine.") from None
        try:
            yield client, max(1, len(client.scheduler_info().get("workers", {})))
        finally:
            client.close()
        return
    workers = int(workers or os.cpu_count() or 1)
    if workers < 1:
        raise EDCInputError(f"Number of workers {workers} is out of range; choose at least 1.")
    _spawn_with_python()
    cluster = distributed.LocalCluster(n_workers=0, threads_per_worker=1, processes=True,
                                       dashboard_address=":0" if _has_dashboard() else None)
    cluster.scale(workers)  # returns at once: the workers start while the caller prepares its tasks
    try:
        client = distributed.Client(cluster)
        try:
            yield client, workers
        finally:
            client.close()
    finally:
        cluster.close()


def dashboard_link(client):
    """The dashboard's address, or None where the dashboard is not available (it needs bokeh)."""
    return client.dashboard_link if _has_dashboard() else None


def _has_dashboard():
    try:
        import bokeh  # noqa: F401
    except ImportError:
        return False
    return True


def _spawn_with_python():
    """Make ``multiprocessing``'s spawned processes run Python where ``sys.executable`` is not Python (QGIS)."""
    import multiprocessing
    python = worker_python()
    if python is None:
        raise EDCInputError(f"No Python interpreter was found to start the Dask worker processes ({sys.executable} is "
                            "not one); give the address of a running Dask scheduler instead.")
    if python != sys.executable:
        multiprocessing.set_executable(python)
