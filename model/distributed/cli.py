"""The ``segment_many`` command line.

Exit status 0 when every pair / block is done (the summary on stdout), 1 when any failed (each named, with its
reason, on stderr), 2 with a one-line ``error:`` message for a bad option, 130 when interrupted (what is done stays in
the manifest: run the same command again to finish)."""

import argparse
import json
import sys
from pathlib import Path

from ..errors import EDCError
from ..vocabulary import DEFAULT_BLOCK, DEFAULT_WEIGHTS_FILE, DEVICES, OUTPUT_GRIDS, RESOLUTIONS, SAR_UNITS

DESCRIPTION = ("Map land cover on a Dask cluster (this machine's cores by default): many optical + SAR pairs "
               "(--pairs), or one large pair cut into blocks (--optical/--sar); identical to edc:segment on each "
               "whole scene, resumable (a rerun does only what is missing).")
DEFAULT_WEIGHTS = Path(__file__).resolve().parents[2] / "resources" / DEFAULT_WEIGHTS_FILE  # ONNX: no torch needed


def build_parser():
    p = argparse.ArgumentParser(prog="python -m model.segment_many", description=DESCRIPTION,
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--optical", help="optical raster of one large pair (with --sar)")
    p.add_argument("--sar", help="SAR raster of one large pair (with --optical)")
    p.add_argument("--pairs", help="CSV file with the columns optical,sar[,name] (paths relative to the CSV), or a "
                                   "folder of NAME_optical.tif + NAME_sar.tif")
    p.add_argument("--out", required=True, help="with --pairs: output folder (NAME.tif per pair); with --optical: "
                                                "OUT.tif: blocks in OUT_blocks/, mosaic OUT.vrt, with --cog OUT.tif")
    p.add_argument("--weights", default=str(DEFAULT_WEIGHTS), help=".onnx (ONNX Runtime) or .pt (PyTorch) EDC weights")
    p.add_argument("--block-size", type=int, default=DEFAULT_BLOCK,
                   help="block side in pixels of the grid the network runs on (rounded down to whole tile steps)")
    p.add_argument("--block-width", type=int, help="block width in pixels (default: the block size; 0: strips of the "
                                                   "whole width, which need no column halo)")
    p.add_argument("--cog", action="store_true", help="also assemble one Cloud-Optimized GeoTIFF OUT.tif")
    p.add_argument("--workers", type=int, help="local worker processes (default: one per core)")
    p.add_argument("--threads-per-worker", type=int,
                   help="threads each worker's network uses (default: the cores shared out between local workers)")
    p.add_argument("--scheduler", help="address of a running Dask scheduler (tcp://host:8786) instead of a local "
                                       "cluster; its workers must see the same paths")
    p.add_argument("--tile-size", type=int, help="tile size (default: from the weights)")
    p.add_argument("--overlap", type=int, help="tile overlap (default: from the weights)")
    p.add_argument("--batch-size", type=int, help="tiles per batch (default: automatic)")
    p.add_argument("--device", choices=DEVICES, default="auto")
    p.add_argument("--cpu-float32", dest="cpu_int8", action="store_false",
                   help="on the CPU, float32 matrix products instead of int8 (slower, the same map within a few "
                        "pixels in ten thousand)")
    p.add_argument("--sar-units", choices=SAR_UNITS, default="auto")
    p.add_argument("--resolution", choices=RESOLUTIONS, default="weights")
    p.add_argument("--output-grid", choices=OUTPUT_GRIDS, default="optical")
    p.add_argument("--extent", type=_extent, help="xmin,ymin,xmax,ymax in the optical CRS (default: the whole "
                                                 "overlap of each pair)")
    p.add_argument("--quiet", action="store_true", help="no progress bar or log lines, only the summary")
    return p


def _extent(text):
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 4:
        raise argparse.ArgumentTypeError(f"'{text}' is not four numbers xmin,ymin,xmax,ymax")
    return values


def options_from(args):
    """:class:`ManyOptions` from parsed arguments."""
    from .pairs import read_pairs
    from .run import ManyOptions
    settings = {k: getattr(args, k) for k in ("tile_size", "overlap", "batch_size", "device", "sar_units",
                                              "resolution", "output_grid", "extent", "cpu_int8")}
    return ManyOptions(args.weights, args.out, pairs=read_pairs(args.pairs) if args.pairs else None,
                       optical=args.optical, sar=args.sar, block_size=args.block_size,
                       block_width=args.block_width, cog=args.cog,
                       workers=args.workers, threads_per_worker=args.threads_per_worker, scheduler=args.scheduler,
                       settings=settings)


def summary(result):
    """The summary printed at the end (JSON)."""
    return {"done": len(result.done), "already_done": len(result.skipped), "failed": len(result.failed),
            "failures": [{"name": n, "reason": r} for n, r in result.failed], "mosaic": result.mosaic,
            "cog": result.cog, "class_stats": result.class_stats, "seconds": round(result.seconds, 2),
            "megapixels": round(result.megapixels, 3),
            "megapixels_per_second": round(result.megapixels_per_second, 4)}


def main(argv=None):
    args = build_parser().parse_args(argv)
    from .run import segment_many
    bar = None

    def log(message):
        if args.quiet:
            return
        if bar is not None:
            bar.write(message, file=sys.stderr)
        else:
            print(message, file=sys.stderr, flush=True)

    def progress(done, total):
        nonlocal bar
        if args.quiet:
            return
        if bar is None:
            from tqdm import tqdm
            bar = tqdm(total=total, unit="task", desc="segment_many", file=sys.stderr)
        bar.update(done - bar.n)
    try:
        result = segment_many(options_from(args), progress=progress, log=log)
    except EDCError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("Interrupted: what is done is in the manifest; run the same command again to finish.", file=sys.stderr)
        return 130
    finally:
        if bar is not None:
            bar.close()
    for name, reason in result.failed if args.quiet else []:  # otherwise logged as they failed
        print(f"FAILED {name}: {reason}", file=sys.stderr)
    print(json.dumps(summary(result), indent=1))
    return 1 if result.failed else 0
