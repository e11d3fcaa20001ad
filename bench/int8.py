"""int8 against float32 matrix products on the CPU, end to end: ``segment()`` with the default weights on one
generated scene (bench.peer's), ``cpu_int8`` on and off in alternating runs after one warm-up run of each (the
session cache filled), medians, and the share of pixels where the two maps agree.

    .venv/bin/python -m bench.int8 [--size 4096] [--repeats 5] [--workdir /tmp/edc-int8]
"""

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from bench.common import DEFAULT_ONNX, header


def run(optical, sar, output, int8):
    """Seconds of one ``segment()`` run with the default settings but ``cpu_int8``."""
    from model.inference import SegmentOptions, segment
    started = time.perf_counter()
    segment(SegmentOptions(str(optical), str(sar), str(DEFAULT_ONNX), str(output), device="cpu", cpu_int8=int8))
    return time.perf_counter() - started


def agreement(a, b):
    """Share of the pixels with the same value in the two maps (nodata included)."""
    from osgeo import gdal
    first, second = gdal.Open(str(a)).ReadAsArray(), gdal.Open(str(b)).ReadAsArray()
    return float((first == second).mean())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "edc-int8"))
    args = parser.parse_args(argv)
    from bench.peer import make_peer_scene
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("EDC_CACHE_DIR", str(work / "edc-cache"))
    optical, sar, _ = make_peer_scene(work, args.size)
    outputs = {True: work / "int8.tif", False: work / "float32.tif"}
    times = {True: [], False: []}
    for round_ in range(args.repeats + 1):
        for int8 in (True, False):
            seconds = run(optical, sar, outputs[int8], int8)
            if round_:  # the first round builds (or loads) each session and warms the file cache
                times[int8].append(seconds)
    print(header("int8", f", segment() {args.size} x {args.size}, {DEFAULT_ONNX.name}, CPU, medians of "
                         f"{args.repeats} alternating runs"))
    result = {"int8_s": statistics.median(times[True]), "float32_s": statistics.median(times[False]),
              "agreement": agreement(outputs[True], outputs[False]), "runs": times}
    result["ratio"] = result["int8_s"] / result["float32_s"]
    print(f"int8 {result['int8_s']:.2f} s, float32 {result['float32_s']:.2f} s: int8 / float32 "
          f"{result['ratio']:.3f}; runs int8 {[round(t, 2) for t in times[True]]}, float32 "
          f"{[round(t, 2) for t in times[False]]}; the maps agree on {100 * result['agreement']:.3f} % of pixels")
    return result


if __name__ == "__main__":
    main()
