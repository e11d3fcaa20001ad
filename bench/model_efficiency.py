"""Benchmark 1 and 2: small EDC (network versions 1, 2 and 3) against the dense tri-stream baseline, batch 1, CPU.

Prints parameters, GFLOPs and the median forward latency of the models at 512 x 512 and 1024 x 1024, then, for
each EDC version, the ratios the paper's claims are about (against the base-width dense model) and the same ratios
against the small-width dense model that the model card's accuracy comparison uses.  Only ratios measured in this
one run are meaningful: absolute times depend on the machine and on what else runs on it.

    .venv/bin/python -m bench.model_efficiency [--repeats 7] [--threads 2]
"""

import argparse
import os
import platform
import statistics
import time
from datetime import datetime, timezone

import torch

from model.network import build_model, preset_config
from model.stats import count_flops, count_parameters, make_inputs

# label: architecture, preset, network version, config overrides
MODELS = {"edc v1 small": ("edc", "small", 1, {}), "edc v2 small": ("edc", "small", 2, {}),
          "edc v3 small": ("edc", "small", 3, {}),
          "dense_tristream small": ("dense_tristream", "small", 1, {}),
          "dense_tristream base": ("dense_tristream", "base", 1, {})}
DENSE = "dense_tristream base"  # the claims' baseline
DENSE_SMALL = "dense_tristream small"  # the accuracy comparison's baseline (the model card's)
SIZES = (512, 1024)


def interleaved_latencies(models, inputs, repeats):
    """Median no-grad forward time of each model after two warm-up passes; the timed runs alternate between the
    models (round after round), so that a slower spell of the machine costs every model alike."""
    times = {name: [] for name in models}
    with torch.no_grad():
        for model in models.values():
            model.eval()
            for _ in range(2):
                model(*inputs)
        for _ in range(repeats):
            for name, model in models.items():
                start = time.perf_counter()
                model(*inputs)
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7,
                        help="timed rounds per size, each running every model once (median reported)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch CPU threads")
    parser.add_argument("--bands", type=int, nargs=2, default=(3, 1), metavar=("OPTICAL", "SAR"))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    print(f"# model efficiency, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"torch {torch.__version__} ({args.threads} threads), batch 1, "
          f"{args.bands[0]}+{args.bands[1]} bands, median of {args.repeats} interleaved rounds")
    models = {name: build_model(arch, preset_config(preset, args.bands[0], args.bands[1], 2, version=version,
                                                    **overrides))
              for name, (arch, preset, version, overrides) in MODELS.items()}
    figures = {}
    for size in SIZES:
        inputs = make_inputs(size, *args.bands)
        latencies = interleaved_latencies(models, inputs, args.repeats)
        for name, model in models.items():
            figures[name, size] = (count_parameters(model), count_flops(model, inputs), latencies[name])
    for name in MODELS:
        for size in SIZES:
            params, flops, latency = figures[name, size]
            print(f"{name:<22} {size:>5}px  params {params / 1e6:7.3f} M  GFLOPs {flops / 1e9:8.2f}  "
                  f"latency {latency * 1000:8.1f} ms")
    for name in MODELS:
        if name.startswith("edc"):
            label = name.replace("edc", "EDC").replace(" small", "")
            print_ratios(figures, name, label)
            print_small_ratios(figures, name, label)


def print_ratios(figures, edc, label):
    """The claims' ratios of one EDC version against the dense base model."""
    param_ratio = figures[(edc, 512)][0] / figures[(DENSE, 512)][0]
    print(f"parameters {label} / dense: {param_ratio:.3f} (target <= 0.533): "
          f"{'PASS' if param_ratio <= 0.533 else 'MISS'}")
    speedups = {}
    for size in SIZES:
        speedups[size] = figures[(DENSE, size)][2] / figures[(edc, size)][2]
        flop_ratio = figures[(DENSE, size)][1] / figures[(edc, size)][1]
        print(f"speed-up {label} vs dense at {size}: {speedups[size]:.2f}x (GFLOPs ratio {flop_ratio:.2f}x)")
    print(f"speed-up at 512 >= 1.98x: {'PASS' if speedups[512] >= 1.98 else 'MISS'}; "
          f"larger at 1024: {'PASS' if speedups[1024] > speedups[512] else 'MISS'}")
    scaling = figures[(edc, 1024)][2] / figures[(edc, 512)][2]
    print(f"{label} latency 1024 / 512: {scaling:.2f} (4x the pixels; target <= 4.5): "
          f"{'PASS' if scaling <= 4.5 else 'MISS'}")


def print_small_ratios(figures, edc, label):
    """Parameters and speed of one EDC version against the small dense model (no target: information)."""
    param_ratio = figures[(edc, 512)][0] / figures[(DENSE_SMALL, 512)][0]
    speed = ", ".join(f"{figures[(DENSE_SMALL, size)][2] / figures[(edc, size)][2]:.2f}x at {size}" for size in SIZES)
    print(f"{label} against dense small: parameters {param_ratio:.3f}, speed-up {speed}")


if __name__ == "__main__":
    main()
