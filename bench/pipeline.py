"""Benchmarks 3 and 4: edc:segment's pipeline overhead and its memory against the scene size.

3. ``segment()`` end to end (loading the weights, normalisation statistics, reading, SAR warping, blending, writing
   the styled GeoTIFF with overviews) on a generated 4096 x 4096 optical + SAR pair, against the model's forward
   passes alone over the same number of tiles and batches: ratio <= 1.15 is the target.  Both are timed after one
   warm-up run on a small scene (PyTorch imported once per session, as in QGIS), medians of alternating runs.
4. Peak resident memory of a whole ``segment()`` run in a fresh process at 2048 x 2048 and at 8192 x 8192: ratio
   <= 1.25 is the target.  The memory runs use the tiny preset to keep the 8192 run short; the network's memory is
   the same for every tile whatever the scene size, so it cancels out of the ratio.

    .venv/bin/python -m bench.pipeline [--size 4096] [--memory-sizes 2048 8192] [--workdir /tmp/edc-bench]
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.common import DEFAULT_ONNX, TIME, bench_weights, header, make_scene, random_weights, timed_child


def model_only_seconds(weights, n_tiles, tile, batch_size, n_optical=3, n_sar=1, device="cpu"):
    """Time of the forward passes alone for ``n_tiles`` tiles of ``tile`` x ``tile`` in batches of ``batch_size``."""
    from model.inference.runtime import load_predictor
    from model.weights import open_weights
    predictor = load_predictor(open_weights(weights), device=device, log=lambda m: None, outputs=("probabilities",))
    rng = np.random.default_rng(0)
    opt = rng.random((batch_size, n_optical, tile, tile), dtype=np.float32)
    sar = rng.random((batch_size, n_sar, tile, tile), dtype=np.float32)
    predictor.predict(opt, sar)  # warm-up
    start, left = time.perf_counter(), n_tiles
    while left > 0:
        b = min(batch_size, left)
        predictor.predict(opt[:b], sar[:b])
        left -= b
    return time.perf_counter() - start


def run_segment(optical, sar, weights, output, batch_size, device="cpu"):
    from model.inference import SegmentOptions, segment
    from model.inference.tiling import TileGrid
    start = time.perf_counter()
    result = segment(SegmentOptions(optical, sar, weights, output, device=device, batch_size=batch_size))
    seconds = time.perf_counter() - start
    tiles = TileGrid(result.height, result.width, result.tile_size, result.overlap)
    return seconds, tiles.n_tiles, min(result.tile_size, result.height), result


def child(args):
    """Runs in a fresh process for the memory measurement; prints one JSON line."""
    seconds, n_tiles, _, _ = run_segment(args.optical, args.sar, args.weights, args.output, args.batch_size)
    print(json.dumps({"seconds": seconds, "tiles": n_tiles}))


def peak_rss_mb(optical, sar, weights, output, batch_size, work):
    """(peak resident MiB, the child's JSON line) of one segment() in a fresh process, measured by GNU time."""
    cmd = [sys.executable, "-m", "bench.pipeline", "--child", "--optical", str(optical), "--sar", str(sar),
           "--weights", str(weights), "--output", str(output), "--batch-size", str(batch_size)]
    log = Path(work) / "pipeline_child.log"
    _, peak, code = timed_child(cmd, log)
    out = log.read_text(errors="replace")
    if code != 0 or peak is None:
        raise SystemExit(f"segment() failed in the child process, or GNU time ({TIME}) is missing: {out[-2000:]}")
    return peak, json.loads(out.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4096, help="scene side for the overhead benchmark")
    parser.add_argument("--memory-sizes", type=int, nargs=2, default=(2048, 8192))
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each side of the overhead ratio")
    parser.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "edc-bench"))
    parser.add_argument("--model", default=str(DEFAULT_ONNX) if DEFAULT_ONNX.exists() else None,
                        help="weights of the overhead measurement (default: the bundled edc_default.onnx)")
    parser.add_argument("--skip-overhead", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    for name in ("optical", "sar", "weights", "output"):
        parser.add_argument(f"--{name}", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args)
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    print(header("pipeline", f", batch {args.batch_size}"), flush=True)

    if not args.skip_overhead:
        weights = Path(args.model) if args.model else bench_weights(work, "small")
        optical, sar = make_scene(work, args.size)
        # Warm-up on a small scene: PyTorch is imported and its kernels initialised once per QGIS session, so the
        # timed runs below measure what every later run costs.
        run_segment(*make_scene(work, 512), weights, work / "warmup.tif", args.batch_size)
        runs, forwards = [], []
        for _ in range(args.repeats):  # alternate the two measurements so that machine noise hits both alike
            seconds, n_tiles, tile, result = run_segment(optical, sar, weights, work / "landcover.tif",
                                                         args.batch_size)
            runs.append(seconds)
            forwards.append(model_only_seconds(weights, n_tiles, tile, args.batch_size))
        seconds, forward = statistics.median(runs), statistics.median(forwards)
        ratio = seconds / forward
        print(f"segment() {args.size}x{args.size} ({weights.name}, SAR in EPSG:4326 at ~20 m, warped on the fly): "
              f"median {seconds:.1f} s for {n_tiles} tiles of {tile} px (overlap {result.overlap}); "
              f"forward passes alone: median {forward:.1f} s; {result.device}; runs {[round(r, 1) for r in runs]}, "
              f"forwards {[round(f, 1) for f in forwards]}")
        print(f"pipeline overhead ratio: {ratio:.3f} (target <= 1.15): {'PASS' if ratio <= 1.15 else 'MISS'}",
              flush=True)

    if not args.skip_memory:
        tiny = random_weights(work / "edc_tiny_random.pt", "tiny")
        peaks = []
        for size in args.memory_sizes:
            optical, sar = make_scene(work, size)
            peak, info = peak_rss_mb(optical, sar, tiny, work / f"landcover_{size}.tif", args.batch_size, work)
            peaks.append(peak)
            print(f"segment() {size}x{size} (tiny preset): peak RSS {peak:.0f} MiB, {info['seconds']:.1f} s, "
                  f"{info['tiles']} tiles", flush=True)
        ratio = peaks[1] / peaks[0]
        print(f"peak memory {args.memory_sizes[1]} / {args.memory_sizes[0]}: {ratio:.3f} "
              f"({(args.memory_sizes[1] / args.memory_sizes[0]) ** 2:.0f}x the pixels; target <= 1.25): "
              f"{'PASS' if ratio <= 1.25 else 'MISS'}")


if __name__ == "__main__":
    main()
