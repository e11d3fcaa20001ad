"""What runs on a Dask worker: the tasks (they carry paths, windows and statistics, never arrays) and the predictor
each worker process loads once and keeps for all its tasks."""

from ..errors import EDCError
from ..inference.malloc import keep_freed_memory
from ..inference.runtime import load_predictor
from ..vocabulary import CPU_INT8
from ..weights import open_weights
from .block import run_block
from .manifest import file_signature
from .plan import whole_scene
from .scene import plan_sources, prepare_scene

_LOADED = {}  # (weights file's path, size, time; device, threads, int8) -> (weights, predictor): one per process
LOADS = []  # the keys loaded by this process, in order (a worker's record: once per weights, not per task)


def loaded(weights_path, device, threads, int8=CPU_INT8):
    """(weights, predictor) of this worker process for ``weights_path`` on ``device``, loaded on first use and
    again where the file has changed (a long-lived worker of a user's cluster).  ``threads``: the network's threads in
    this process, PyTorch's or ONNX Runtime's (None: as they are); ``int8``: see :class:`SegmentOptions` cpu_int8."""
    key = (*file_signature(weights_path), device, threads, int8)
    if key not in _LOADED:
        _LOADED.clear()  # another weights file: free the previous network first
        weights = open_weights(weights_path)
        if threads and not weights.is_onnx:
            from ..dependencies import import_torch
            import_torch().set_num_threads(int(threads))
        predictor = load_predictor(weights, device=device, log=_quiet, outputs=("probabilities",),
                                   threads=int(threads) if threads else None, int8=int8)
        if not predictor.on_gpu:
            keep_freed_memory()
        _LOADED[key] = weights, predictor
        LOADS.append(key)
    return _LOADED[key]


def block_task(plan, block, path, threads=None):
    """Map one block of a scene prepared on the client (:class:`ScenePlan`) into ``path``."""
    def run():
        weights, predictor = loaded(plan.options.weights, plan.options.device, threads, plan.options.cpu_int8)
        return run_block(plan, block, path, predictor, weights.metadata, plan.options.batch_size)
    return _checked(run)


def pair_task(options, path, threads=None):
    """Map one whole pair (:class:`SegmentOptions`) into ``path``: its statistics and grids are decided here, on
    the worker, so that the client does not read hundreds of scenes one after the other."""
    notes = []

    def run():
        weights, predictor = loaded(options.weights, options.device, threads, options.cpu_int8)
        meta = weights.metadata
        plan = prepare_scene(options, meta, notes.append)
        block = whole_scene(plan.model, plan.output, plan.tile, plan.overlap, plan_sources(plan))
        result = run_block(plan, block, path, predictor, meta, options.batch_size)
        result.update(width=plan.output.width, height=plan.output.height, notes=notes)
        return result
    return _checked(run)


def _checked(run):
    """``run()``'s result, or {"failed": reason} for a user's error (an EDCError: returned, not raised, so that
    Dask does not log it as a crash with a traceback); a MemoryError says what to reduce, as in ``segment()``."""
    try:
        return run()
    except MemoryError:
        return {"failed": "Not enough memory for this tile size and batch size on a worker; reduce the tile size, the "
                          "batch size or the number of workers per machine."}
    except EDCError as exc:
        return {"failed": str(exc)}


def _quiet(*_args):
    return None
