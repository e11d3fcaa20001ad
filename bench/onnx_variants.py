"""Network time of ONNX files of the same network on the CPU, in sessions shaped like those of ``edc:segment``.

For weights variants (float16 storage, ONNX Runtime's dynamic int8, weight-only MatMulNBits, ...): each file runs
as it is (no int8 made at load, no session cache) in a CPU session of the shape ``edc:segment`` uses (one tile per
pass, fixed shape, probabilities only); rounds alternate between the files, the median time per tile is reported with
the share of pixels whose class agrees with the first file's on the same random tiles.  Accuracy on real data is
``bench.ombria_inference``'s job.

    .venv/bin/python -m bench.onnx_variants resources/edc_default.onnx other.onnx [--tile 512] [--rounds 5]
"""

import argparse
import statistics
import time

import numpy as np

from bench.common import header, random_batches

OUTPUT = "probabilities"


def session(path, tile):
    """The CPU session ``edc:segment`` builds for ``tile`` px tiles (without the session cache)."""
    import onnxruntime as ort

    from model.inference.session_cache import session_options
    from model.vocabulary import ONNX_CPU_BATCH
    return ort.InferenceSession(str(path), session_options(ort, (ONNX_CPU_BATCH, tile, tile)),
                                providers=["CPUExecutionProvider"])


def seconds_per_tile(sess, tiles):
    start = time.perf_counter()
    for optical, sar in tiles:
        sess.run([OUTPUT], {"optical": optical, "sar": sar})
    return (time.perf_counter() - start) / len(tiles)


def agreement(sess, reference, tiles):
    """Share of pixels with the same class as ``reference`` gives."""
    same = [np.mean(sess.run([OUTPUT], {"optical": o, "sar": s})[0].argmax(1)
                    == reference.run([OUTPUT], {"optical": o, "sar": s})[0].argmax(1)) for o, s in tiles]
    return float(np.mean(same))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", help="ONNX files of one network (the first is the reference)")
    parser.add_argument("--tile", type=int, default=512)
    parser.add_argument("--tiles", type=int, default=3, help="tiles per round and file")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    tiles = random_batches(args.tiles, args.tile, 1)
    sessions = {}
    for path in args.files:
        started = time.perf_counter()
        sessions[path] = session(path, args.tile)
        sessions[path].run([OUTPUT], {"optical": tiles[0][0], "sar": tiles[0][1]})  # warm-up
        print(f"{path}: session built in {time.perf_counter() - started:.2f} s", flush=True)
    times = {path: [] for path in args.files}
    for _ in range(args.rounds):
        for path, sess in sessions.items():
            times[path].append(seconds_per_tile(sess, tiles))
    print(header("onnx_variants", f", {args.tile} px tiles, {args.tiles} tiles x {args.rounds} alternating rounds"))
    reference = sessions[args.files[0]]
    base = statistics.median(times[args.files[0]])
    rows = {}
    for path, sess in sessions.items():
        median = statistics.median(times[path])
        rows[path] = {"ms_per_tile": 1000 * median, "relative": median / base,
                      "agreement": agreement(sess, reference, tiles)}
        print(f"{path}: median {rows[path]['ms_per_tile']:.0f} ms per tile ({rows[path]['relative']:.2f}x the "
              f"first), rounds {[round(1000 * t) for t in times[path]]} ms, classes agree on "
              f"{100 * rows[path]['agreement']:.2f} % of pixels", flush=True)
    return rows


if __name__ == "__main__":
    main()
