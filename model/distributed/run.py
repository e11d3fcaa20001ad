"""``segment_many()``: many optical + SAR pairs, or one large pair cut into blocks, mapped on a Dask cluster.

The story of one run: what is asked is checked -> the manifest says what is already done -> for one large pair, the
scene is prepared here once (decoding, statistics, grids) and cut into blocks; for a list of pairs, each pair is
prepared on its worker -> the missing blocks / pairs are submitted (paths, windows and statistics travel, not
arrays) -> each one that completes is entered in the manifest, each one that fails is reported by name without
stopping the others -> temporary files of killed workers are removed -> for blocks, the VRT mosaic and the optional
COG are assembled -> a summary.  Raises EDCError subclasses only (EDCCancelled on cancel).
"""

import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import EDCCancelled, EDCError, EDCInputError
from ..inference.options import SegmentOptions, check_output_path
from ..inference.writers import STALE_SECONDS, sweep_stale_parts
from ..vocabulary import DEFAULT_BLOCK
from ..weights import open_weights
from .assemble import build_cog, build_vrt
from .cluster import dashboard_link, dask_client, local_threads
from .manifest import Manifest, file_signature
from .pairs import check_names
from .plan import plan_blocks
from .scene import plan_sources, prepare_scene
from .worker import block_task, pair_task

POLL_SECONDS = 0.25  # how often a waiting run looks at the cancel flag


@dataclass
class ManyOptions:
    """What one ``segment_many`` run is asked to do.

    Either ``pairs``: a list of (name, optical, SAR) mapped into ``out`` (a folder) as ``<name>.tif``; or
    ``optical`` and ``sar``: one large pair cut into blocks of ``block_size`` model pixels a side (``block_width``:
    another width; 0: strips of the whole width, no column halo), mapped into
    ``<out stem>_blocks/`` with a VRT mosaic ``<out stem>.vrt`` and, with ``cog``, one Cloud-Optimized GeoTIFF
    ``out``.  ``workers``: local worker processes (None: one per core); ``threads_per_worker``: threads each
    worker's network uses (None: the local cores shared out; a cluster's workers as they are); ``scheduler``: the
    address of a running Dask scheduler instead of a local cluster.  ``settings``: further :class:`SegmentOptions`
    fields (tile_size, overlap, batch_size, device, sar_units, resolution, output_grid, optical_bands, sar_bands,
    cpu_int8)."""
    weights: str
    out: str
    pairs: list = None
    optical: str = None
    sar: str = None
    block_size: int = DEFAULT_BLOCK
    block_width: int = None
    cog: bool = False
    workers: int = None
    threads_per_worker: int = None
    scheduler: str = None
    settings: dict = field(default_factory=dict)

    def __post_init__(self):
        if bool(self.pairs) == bool(self.optical or self.sar):
            raise EDCInputError("Give either a list of pairs or one optical and one SAR raster, not both (nor none).")
        if not self.pairs and not (self.optical and self.sar):
            raise EDCInputError("One large pair needs both an optical and a SAR raster.")
        for label, value in (("Block size", self.block_size), ("Block width", self.block_width)):
            if value is not None and (not isinstance(value, int) or value < (label == "Block size")):
                raise EDCInputError(f"{label} {value} is out of range; choose a number of pixels (e.g. "
                                    f"{DEFAULT_BLOCK}).")


@dataclass
class ManyResult:
    """What a run did: ``done`` / ``skipped`` (already done by an earlier run) / ``failed`` ((name, reason)) items,
    ``outputs`` (GeoTIFFs of the pairs or blocks), ``mosaic`` (VRT) and ``cog`` where made, per-class ``class_stats``
    over everything in the output (value, name, pixels, area_m2, area_ha), ``megapixels`` mapped by this run,
    ``seconds``, and the ``dashboard`` address where there was one."""
    done: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    failed: list = field(default_factory=list)
    outputs: list = field(default_factory=list)
    mosaic: str = None
    cog: str = None
    class_stats: list = field(default_factory=list)
    megapixels: float = 0.0
    seconds: float = 0.0
    dashboard: str = None

    @property
    def megapixels_per_second(self):
        return self.megapixels / self.seconds if self.seconds > 0 else 0.0


def _quiet(*_args):
    return None


def segment_many(options, progress=None, is_cancelled=None, log=None):
    """Run ``options`` (:class:`ManyOptions`); ``progress(done, total)`` after each block or pair, ``is_cancelled()``
    polled while waiting, ``log(message)``.  Returns a :class:`ManyResult` (failed items are in it, not raised)."""
    started, log = time.time(), log or _quiet
    meta = open_weights(options.weights).metadata
    result, jobs = ManyResult(), []
    try:
        with dask_client(options.workers, options.scheduler, log) as (client, workers):  # starts during the next step
            jobs, folder, manifest = (_block_jobs if options.optical else _pair_jobs)(options, meta, result, log)
            todo = [job for job in jobs if not manifest.is_done(job.key, job.signature, folder)]
            result.skipped = [job.name for job in jobs if job not in todo]
            if result.skipped:
                log(f"{len(result.skipped)} of {len(jobs)} already done (manifest {manifest.path}); doing the other "
                    f"{len(todo)}.")
            if todo:
                _run_jobs(client, workers, options, todo, manifest, result, progress, is_cancelled, log)
    finally:
        for job in jobs:  # what killed or cancelled workers left: the local ones are stopped, the others done
            sweep_stale_parts(job.path, now=time.time() + STALE_SECONDS)
    finished = set(result.skipped) | set(result.done)
    done = [job for job in jobs if job.name in finished]
    result.outputs = [str(job.path) for job in done]
    result.megapixels = sum(job.pixels for job in todo if job.name in result.done) / 1e6
    if options.optical and len(done) == len(jobs):
        vrt = build_vrt(Path(options.out).with_suffix(".vrt"), [job.path for job in jobs], meta)
        result.mosaic = str(vrt)
        if options.cog:
            log("Assembling the Cloud-Optimized GeoTIFF ...")
            result.cog = str(build_cog(options.out, vrt, meta))
    result.class_stats = _class_stats(meta, [manifest.entries[job.key] for job in done])
    result.seconds = time.time() - started
    return result


@dataclass(eq=False)
class _Job:
    """One task: ``key`` in the manifest, ``name`` in reports, its output ``path``, ``signature``, the task's
    function and arguments, its output ``pixels``."""
    key: str
    name: str
    path: Path
    signature: list
    task: object
    args: tuple
    pixels: int = 0


def _block_jobs(options, meta, result, log):
    """One large pair: the scene prepared here, one job per block."""
    out = check_output_path(options.out, "mosaic")
    folder = out.parent / f"{out.stem}_blocks"
    folder.mkdir(exist_ok=True)
    scene = SegmentOptions(options.optical, options.sar, options.weights, str(out), **options.settings)
    plan = prepare_scene(scene, meta, log)
    blocks = plan_blocks(plan.model, plan.output, plan.tile, plan.overlap, options.block_size, options.block_width,
                         plan_sources(plan))
    log(f"{options.optical}: output grid {plan.output.width} x {plan.output.height} pixels, model grid "
        f"{plan.model.width} x {plan.model.height}, tiles of {plan.tile} px with {plan.overlap} px overlap, "
        f"{len(blocks)} blocks of at most {options.block_size} px" + (" (strips)." if options.block_width == 0 else
                                                                       "."))
    base = [_scene_signature(scene, options.weights), plan.tile, plan.overlap]
    jobs = [_Job(b.key, b.key, folder / f"block_{b.key}.tif",
                 base + [b.rows.own, b.cols.own, b.rows.output, b.cols.output, plan.area_offset], block_task,
                 (plan, b), b.pixels) for b in blocks]
    return jobs, folder, Manifest(folder / "manifest.json")


def _pair_jobs(options, meta, result, log):
    """A list of pairs: one job per pair (a pair whose options are refused fails here, by name)."""
    folder = Path(options.out).expanduser().absolute()
    if folder.suffix.lower() in (".tif", ".tiff"):
        raise EDCInputError(f"The output for a list of pairs is a folder, not the file '{folder}'; give a folder.")
    folder.mkdir(parents=True, exist_ok=True)
    check_names([name for name, _, _ in options.pairs])
    jobs = []
    for name, optical, sar in options.pairs:
        path = folder / f"{name}.tif"
        try:
            scene = SegmentOptions(optical, sar, options.weights, str(path), **options.settings)
            scene.output_paths()
            scene.tiling(meta)
        except EDCError as exc:
            result.failed.append((name, str(exc)))
            log(f"FAILED {name}: {exc}")
            continue
        jobs.append(_Job(name, name, path, [_scene_signature(scene, options.weights)], pair_task, (scene,),
                         _pixels_guess(optical)))
    return jobs, folder, Manifest(folder / "manifest.json")


def _run_jobs(client, workers, options, todo, manifest, result, progress, is_cancelled, log):
    """Submit ``todo`` to the cluster of ``client`` (``workers`` workers) and enter each job in the manifest as it
    completes."""
    from ..dependencies import import_distributed
    distributed = import_distributed()
    threads = options.threads_per_worker or (None if options.scheduler else local_threads(workers))
    result.dashboard = dashboard_link(client)
    log(f"Dask: {workers} workers" + (f" of the cluster at {options.scheduler}" if options.scheduler else
                                      " on this machine") + (f"; dashboard: {result.dashboard}"
                                                             if result.dashboard else ""))
    futures = {client.submit(job.task, *job.args, str(job.path), threads, pure=False, retries=0,
                             key=f"edc-{job.key}-{time.time_ns()}"): job for job in todo}
    pending, finished = set(futures), 0
    try:
        while pending:
            if is_cancelled is not None and is_cancelled():
                raise EDCCancelled("Cancelled by the user; blocks and pairs already done are kept (a rerun "
                                   "continues from them), nothing half-written is.")
            try:
                done, pending = distributed.wait(pending, timeout=POLL_SECONDS, return_when="FIRST_COMPLETED")
            except TimeoutError:
                continue
            for future in done:
                _record(futures[future], future, manifest, result, log)
                finished += 1
                if progress is not None:
                    progress(finished, len(todo))
    finally:
        if pending:
            client.cancel(list(pending))


def _record(job, future, manifest, result, log):
    """The outcome of one job: entered in the manifest, or its failure reported by name."""
    if future.status == "finished" and "failed" not in future.result():
        value = future.result()
        for note in value.pop("notes", []):
            log(f"{job.name}: {note}")
        if "width" in value:
            job.pixels = value["width"] * value["height"]
        manifest.add(job.key, job.signature, value)
        result.done.append(job.name)
        return
    if future.status == "finished":
        reason = future.result()["failed"]
    else:
        exc = future.exception()
        reason = str(exc) if isinstance(exc, EDCError) else f"{type(exc).__name__}: {exc}"
    result.failed.append((job.name, reason))
    log(f"FAILED {job.name}: {reason}")


def _scene_signature(scene, weights):
    """What a scene's output depends on: the inputs' and weights' files and the settings."""
    settings = {k: v for k, v in vars(scene).items() if k not in ("optical", "sar", "weights", "output")}
    return [file_signature(scene.optical), file_signature(scene.sar), file_signature(weights),
            repr(sorted(settings.items()))]


def _pixels_guess(path):
    """The optical raster's pixels (the output's before cropping), for throughput; 0 when unreadable."""
    try:
        from ..geo.rasters import gdal_modules
        gdal, _ = gdal_modules()
        ds = gdal.Open(str(path).split("|")[0])
        return ds.RasterXSize * ds.RasterYSize
    except (RuntimeError, AttributeError):
        return 0


def _class_stats(meta, entries):
    """Per-class pixels and areas summed over manifest ``entries``."""
    stats = []
    for c in meta["classes"]:
        v = c["value"]
        pixels = sum(e["pixels"][v] for e in entries)
        measured = entries and all(e.get("area_m2") is not None for e in entries)
        area = sum(e["area_m2"][v] for e in entries) if measured else None
        stats.append({"value": v, "name": c["name"], "pixels": int(pixels), "area_m2": area,
                      "area_ha": None if area is None else area / 1e4})
    return stats
