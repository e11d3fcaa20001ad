"""Print parameters and GFLOPs of every preset and baseline: ``python -m model.stats [--size 512] [--time]``.

FLOPs are counted by torch.utils.flop_counter.FlopCounterMode (one multiply-add = 2 FLOPs) on a real forward pass;
the CPU fused attention kernel, which that counter does not know, is registered with the standard attention formula
(QK^T and AV matmuls) so dense and carrier-token attention are both counted in full.  ``--time`` adds median CPU
forward times (best of 5 after a warm-up: the run least disturbed by other processes; torch threads from
``--threads``).
"""

import argparse
import time

import torch
from torch.utils import flop_counter

from .network import build_model, preset_config

COMBINATIONS = [("edc", "tiny"), ("edc", "small"), ("edc", "base"), ("dense_tristream", "base"),
                ("optical_only", "small"), ("sar_only", "small"), ("early_concat", "small")]
_registered = False


def _register_cpu_attention():
    global _registered
    op = getattr(torch.ops.aten, "_scaled_dot_product_flash_attention_for_cpu", None)
    if _registered or op is None or op in flop_counter.flop_registry:
        return

    @flop_counter.register_flop_formula(op)
    def _cpu_attention_flops(query, key, value, *args, out_shape=None, **kwargs):
        return flop_counter.sdpa_flop_count(query, key, value)

    _registered = True


def count_parameters(model):
    return sum(p.numel() for p in model.parameters())


def count_flops(model, inputs):
    """Forward FLOPs of ``model(*inputs)`` (eval mode, no grad)."""
    _register_cpu_attention()
    model.eval()
    with torch.no_grad(), flop_counter.FlopCounterMode(display=False) as counter:
        model(*inputs)
    return counter.get_total_flops()


def time_forward(model, inputs, repeats=5):
    """Shortest wall time of ``repeats`` no-grad forward passes after one warm-up run."""
    model.eval()
    times = []
    with torch.no_grad():
        model(*inputs)
        for _ in range(repeats):
            start = time.perf_counter()
            model(*inputs)
            times.append(time.perf_counter() - start)
    return min(times)


def make_inputs(size, in_optical=3, in_sar=1, batch=1):
    return torch.randn(batch, in_optical, size, size), torch.randn(batch, in_sar, size, size)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--optical", type=int, default=3, help="optical bands")
    parser.add_argument("--sar", type=int, default=1, help="SAR bands")
    parser.add_argument("--classes", type=int, default=2)
    parser.add_argument("--time", action="store_true", help="also time CPU forward passes")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--only", default="", help="comma-separated architecture:preset rows, e.g. "
                                                     "edc:small,dense_tristream:base")
    args = parser.parse_args(argv)
    rows = [tuple(item.split(":")) for item in args.only.split(",") if item] or COMBINATIONS
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    inputs = make_inputs(args.size, args.optical, args.sar)
    print(f"input {args.optical}+{args.sar} bands, {args.size}x{args.size}, batch 1")
    print(f"{'architecture':<16} {'preset':<6} {'params (M)':>10} {'GFLOPs':>8}" + ("  CPU s" if args.time else ""))
    results = {}
    for arch, preset in rows:
        model = build_model(arch, preset_config(preset, args.optical, args.sar, args.classes))
        stats = [count_parameters(model), count_flops(model, inputs)]
        line = f"{arch:<16} {preset:<6} {stats[0] / 1e6:>10.3f} {stats[1] / 1e9:>8.2f}"
        if args.time:
            stats.append(time_forward(model, inputs))
            line += f"  {stats[2]:.3f}"
        results[arch, preset] = stats
        print(line, flush=True)
    edc, dense = results.get(("edc", "small")), results.get(("dense_tristream", "base"))
    if edc and dense:
        line = (f"EDC small vs dense tri-stream (base widths): parameters {100 * edc[0] / dense[0]:.1f}%, "
                f"GFLOPs {100 * edc[1] / dense[1]:.1f}%")
        if args.time:
            line += f", speed-up {dense[2] / edc[2]:.2f}x"
        print(line)


if __name__ == "__main__":
    main()
