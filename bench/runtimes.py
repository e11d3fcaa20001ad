"""Benchmark 5: ONNX Runtime against PyTorch on the CPU, same weights, same tiles.

The small EDC weights are exported to ONNX; both runtimes then predict the same batches of random tiles (the
network's cost does not depend on the pixel values).  Prints the throughput of each, their ratio
(target: ONNX Runtime at least as fast) and how far their outputs are apart.

    .venv/bin/python -m bench.runtimes [--tiles 16] [--tile 256] [--batch-size 4]
"""

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.common import bench_weights, header, random_batches


def throughput(predictor, batches):
    predictor.predict(*batches[0])  # warm-up
    start = time.perf_counter()
    outputs = [predictor.predict(*b) for b in batches]
    seconds = time.perf_counter() - start
    pixels = sum(b[0].shape[0] * b[0].shape[2] * b[0].shape[3] for b in batches)
    return pixels / seconds / 1e6, outputs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiles", type=int, default=16)
    parser.add_argument("--tile", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "edc-bench"))
    args = parser.parse_args(argv)
    from model.inference.runtime import load_predictor
    from model.weights import open_weights
    from model.weights.onnx_export import export_onnx

    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    pt = bench_weights(work, "small")
    onnx = work / "edc_bench.onnx"
    weights = open_weights(pt)
    model, meta = weights.build_model(), weights.metadata
    export_onnx(model, meta, onnx)
    print(header("runtimes", f", {args.tiles} tiles of {args.tile} px, batch {args.batch_size}, weights {pt.name}"))

    n_opt, n_sar = len(meta["inputs"]["optical"]["bands"]), len(meta["inputs"]["sar"]["bands"])
    batches = random_batches(args.tiles, args.tile, args.batch_size, n_opt, n_sar)

    results = {}
    for name, path in (("PyTorch", pt), ("ONNX Runtime", onnx)):
        predictor = load_predictor(open_weights(path), device="cpu", log=lambda m: None, int8=False)  # runtimes, alike
        results[name] = throughput(predictor, batches)
        print(f"{name:<13} {predictor.device:<45} {results[name][0]:.3f} Mpx/s")
    ratio = results["ONNX Runtime"][0] / results["PyTorch"][0]
    diff = max(float(np.abs(a[k] - b[k]).max()) for a, b in zip(results["PyTorch"][1], results["ONNX Runtime"][1])
               for k in ("probabilities", "cloudfree", "reliability"))
    agree = np.mean([np.mean(a["probabilities"].argmax(1) == b["probabilities"].argmax(1))
                     for a, b in zip(results["PyTorch"][1], results["ONNX Runtime"][1])])
    print(f"throughput ONNX Runtime / PyTorch: {ratio:.2f} (target >= 1.0): {'PASS' if ratio >= 1.0 else 'MISS'}")
    print(f"outputs: max abs difference {diff:.2e}, same class on {agree * 100:.3f}% of pixels")


if __name__ == "__main__":
    main()
