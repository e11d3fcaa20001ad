"""Benchmark 7: ``segment_many`` on Dask against one ``edc:segment`` run, and what a cluster would need.

On one generated optical + SAR pair (SAR in EPSG:4326, warped on the fly), with the bundled weights:

- one ``segment()`` run in this process (after a warm-up), then ``segment_many`` with a local cluster of 1 worker
  (all cores) on the blocks asked for and on the whole scene as one block (the cost of the distributed path alone,
  without the halo), and of 2 workers (the cores shared out) on the blocks asked for, then ``segment()`` again (its
  two runs' mean is the reference; their difference shows the spread); wall times include starting the cluster;
- throughput ratios against the single run, and the overhead of the distributed path with one worker (target
  <= 1.10); the mosaic is compared with the single run's map pixel for pixel;
- for the paper estimate of a cluster: the scheduler's cost per task (no-op tasks on the same cluster), the bytes a
  block task sends and gets back, the bytes of a block file, and the extra tiles the halo costs at other block sizes.

    nice -n 10 .venv/bin/python -m bench.distributed [--size 8192] [--block-size 4096] [--block-width 0]
"""

import argparse
import pickle
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.common import DEFAULT_ONNX, bench_weights, header, make_scene


def cpu_seconds():
    """CPU seconds (user + system) of this process and of its children that have ended (the local cluster's
    processes, once it is closed): on a machine shared with other jobs, work is measured where wall time is not."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def single_run(optical, sar, weights, out):
    from model.inference import SegmentOptions, segment
    start, cpu = time.perf_counter(), cpu_seconds()
    result = segment(SegmentOptions(str(optical), str(sar), str(weights), str(out)))
    return time.perf_counter() - start, cpu_seconds() - cpu, result


def many_run(optical, sar, weights, out, workers, block_size, block_width):
    from model.distributed import ManyOptions, segment_many
    start, cpu = time.perf_counter(), cpu_seconds()
    result = segment_many(ManyOptions(str(weights), str(out), optical=str(optical), sar=str(sar),
                                      block_size=block_size, block_width=block_width, workers=workers))
    return time.perf_counter() - start, cpu_seconds() - cpu, result


def differing_pixels(a, b):
    from osgeo import gdal
    x, y = gdal.Open(str(a)), gdal.Open(str(b))
    rows, diff = 1024, 0
    for r in range(0, x.RasterYSize, rows):
        h = min(rows, x.RasterYSize - r)
        diff += int((x.ReadAsArray(0, r, x.RasterXSize, h) != y.ReadAsArray(0, r, y.RasterXSize, h)).sum())
    return diff


def task_costs(optical, sar, weights, block_size, block_width, workers=2, n=2000):
    """(scheduler seconds per no-op task, bytes of one block task's arguments, block count, plan)."""
    import distributed

    from model.distributed.plan import plan_blocks
    from model.distributed.scene import plan_sources, prepare_scene
    from model.inference import SegmentOptions
    from model.weights import open_weights
    meta = open_weights(weights).metadata
    plan = prepare_scene(SegmentOptions(str(optical), str(sar), str(weights), "/tmp/x.tif"), meta, lambda m: None)
    blocks = plan_blocks(plan.model, plan.output, plan.tile, plan.overlap, block_size, block_width, plan_sources(plan))
    arg_bytes = len(pickle.dumps((plan, blocks[0], "/some/output/folder/block_r000_c000.tif", 1)))
    with distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        client.gather(client.map(_noop, range(50), pure=False))  # warm-up
        start = time.perf_counter()
        client.gather(client.map(_noop, range(n), pure=False))
        per_task = (time.perf_counter() - start) / n
    return per_task, arg_bytes, plan, blocks


def _noop(i):
    return i


def halo_cost(plan, block_size, block_width):
    """Tiles run by all blocks / tiles of the whole scene."""
    from model.distributed.plan import plan_blocks, sub_grid
    from model.distributed.scene import plan_sources
    from model.inference.tiling import TileGrid
    blocks = plan_blocks(plan.model, plan.output, plan.tile, plan.overlap, block_size, block_width, plan_sources(plan))
    tiles = sum(sub_grid(b, plan.tile, plan.overlap).n_tiles for b in blocks)
    return tiles / TileGrid(plan.model.height, plan.model.width, plan.tile, plan.overlap).n_tiles, len(blocks)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=8192)
    p.add_argument("--block-size", type=int, default=4096)
    p.add_argument("--block-width", type=int, default=0)
    p.add_argument("--workdir", default=str(Path(tempfile.gettempdir()) / "edc-bench"))
    p.add_argument("--model", default=str(DEFAULT_ONNX) if DEFAULT_ONNX.exists() else None,
                   help="weights (default: the bundled edc_default.onnx, what edc:segment maps with)")
    args = p.parse_args(argv)
    work = Path(args.workdir)
    optical, sar = make_scene(work, args.size)
    weights = Path(args.model) if args.model else bench_weights(work)
    out = work / "distributed"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    print(header("distributed", f", scene {args.size} x {args.size}, blocks {args.block_size} x "
                                f"{args.block_width if args.block_width is not None else args.block_size} "
                                "(0 = whole width)"))
    small_opt, small_sar = make_scene(work, 512)
    single_run(small_opt, small_sar, weights, out / "warmup.tif")
    t_single, cpu_single, single = single_run(optical, sar, weights, out / "single.tif")
    mpx = single.width * single.height / 1e6
    print(f"segment(): {t_single:.1f} s, {cpu_single:.1f} CPU s, {mpx / t_single:.3f} Mpx/s ({single.device})")
    times, cpus = {}, {}
    runs = ((1, args.block_size), (1, 0), (2, args.block_size))  # block size 0: the whole scene in one block
    for workers, block_size in runs:
        one = block_size == 0
        name = f"many_{workers}{'_one' if one else ''}"
        t, cpu, result = many_run(optical, sar, weights, out / f"{name}.tif", workers,
                                  2 * args.size if one else block_size, None if one else args.block_width)
        times[workers, one], cpus[workers, one] = t, cpu
        diff = differing_pixels(out / "single.tif", result.mosaic)
        print(f"segment_many, {workers} worker(s){', the whole scene as one block' if one else ''}: {t:.1f} s, "
              f"{cpu:.1f} CPU s, {mpx / t:.3f} Mpx/s, {len(result.done)} blocks, failed {len(result.failed)}; "
              f"pixels differing from segment(): {diff}")
    t_again, cpu_again, _ = single_run(optical, sar, weights, out / "single_again.tif")
    print(f"segment() again: {t_again:.1f} s, {cpu_again:.1f} CPU s (the spread of one measurement)")
    t_single, cpu_single = (t_single + t_again) / 2, (cpu_single + cpu_again) / 2
    print(f"throughput against segment() (wall time, mean of its two runs): 1 worker {t_single / times[1, False]:.3f}, "
          f"2 workers {t_single / times[2, False]:.3f}")
    for one, what in ((True, "the distributed path alone (1 worker, 1 block)"),
                      (False, f"1 worker, blocks of {args.block_size} (with their halo)")):
        overhead, work = times[1, one] / t_single, cpus[1, one] / cpu_single
        print(f"overhead of {what}: wall time {overhead:.3f}, CPU time {work:.3f} (target <= 1.10): "
              f"{'PASS' if min(overhead, work) <= 1.10 else 'MISS'}")
    print(f"2 workers: CPU time {cpus[2, False] / cpu_single:.3f}")
    per_task, arg_bytes, plan, blocks = task_costs(optical, sar, weights, args.block_size, args.block_width)
    block_files = sorted((out / "many_2_blocks").glob("block_*.tif"))
    file_bytes = np.mean([f.stat().st_size for f in block_files])
    print(f"scheduler: {1e3 * per_task:.2f} ms per no-op task (2 local workers); a block task's arguments: "
          f"{arg_bytes} bytes pickled, its result about 300 bytes; a block file: {file_bytes / 1e6:.2f} MB "
          f"for {blocks[0].pixels / 1e6:.1f} Mpx")
    for size, width in ((1024, None), (2048, None), (4096, None), (8192, None), (1024, 0), (2048, 0), (4096, 0)):
        ratio, n = halo_cost(plan, size, width)
        print(f"blocks {size} x {'whole width' if width == 0 else size}: {n} blocks, tiles run / scene tiles "
              f"{ratio:.3f}")


if __name__ == "__main__":
    main()
