"""Which parts of a trained EDC network its map depends on, measured on the OMBRIA test split.

Each transformer block of the encoder adds an attention branch and an MLP branch to its input; both end in a
``nn.Linear``.  Zeroing the outputs of a group's ``nn.Linear`` layers switches those branches off, so every block of
the group passes its input on unchanged (the carrier tokens' attention included), and the rest of the network (the
convolutional stages, patch merging, DCHF's gate and fusion convolutions, the decoder) stays as trained.  The
flood-water IoU with each group switched off, against the network as trained, says how much of the map those blocks
make.  Groups: the optical and SAR streams' blocks, the fusion stream's (DCHF's) blocks, all of them.  Also: the
decoder with its deepest input maps zeroed (stride 32; strides 16 and 32).

Settings as in ``model.evaluate --benchmark``: the whole test split, and synthetic clouds over 50 % of every clear
patch (same fixed cloud seed).  No timing: any machine gives the same figures.

    .venv/bin/python -m bench.branch_ablation WEIGHTS.pt [WEIGHTS.pt ...] [--data ../shared/data/ombria]
"""

import argparse
from contextlib import contextmanager

from bench.common import ROOT

FOCUS = "flood water"
GROUPS = {"streams": ("optical.", "sar."), "fusion": ("dchf.",), "all": ("optical.", "sar.", "dchf.")}
DECODER_ZEROED = {"decoder without stride 32": (3,), "decoder without strides 16, 32": (2, 3)}


def linear_layers(model, prefixes):
    """The ``nn.Linear`` modules of ``model`` whose names start with one of ``prefixes``."""
    import torch
    return [m for name, m in model.named_modules() if isinstance(m, torch.nn.Linear) and name.startswith(prefixes)]


@contextmanager
def zeroed_outputs(modules):
    """Within the block, every module in ``modules`` outputs zeros (of its usual shape)."""
    hooks = [m.register_forward_hook(lambda _m, _inputs, out: out * 0.0) for m in modules]
    try:
        yield len(hooks)
    finally:
        for hook in hooks:
            hook.remove()


@contextmanager
def zeroed_decoder_inputs(model, stages):
    """Within the block, the decoder receives zeros for the fusion maps of ``stages`` (0-based)."""
    def hook(_module, args):
        return ([f * 0.0 if i in stages else f for i, f in enumerate(args[0])],)
    handle = model.decoder.register_forward_pre_hook(hook)
    try:
        yield
    finally:
        handle.remove()


def flood_iou(model, meta, data, coverage, indices):
    """Flood-water IoU of ``model`` on the test patches ``indices``, with synthetic clouds over ``coverage`` (the
    clouds of ``model.evaluate``'s benchmark: same default seed)."""
    from model.evaluate import evaluate_built
    return evaluate_built(model, meta, "ombria", data, "test", coverage, indices=indices)["all"]["iou"][FOCUS]


def settings(data):
    """(label, coverage, patch indices): ``model.evaluate``'s whole split and 50 % synthetic cloud settings."""
    from model.datasets import open_dataset
    from model.evaluate import benchmark_settings
    reader = open_dataset("ombria", data, "test")
    chosen = benchmark_settings(reader, (0.5,), list(range(len(reader))))
    return [chosen[0], chosen[-1]]


def ablations(model):
    """(label, context manager) of every variant, the network as trained first."""
    yield "as trained", zeroed_outputs([])
    for label, prefixes in GROUPS.items():
        yield f"{label} blocks off", zeroed_outputs(linear_layers(model, prefixes))
    for label, stages in DECODER_ZEROED.items():
        yield label, zeroed_decoder_inputs(model, stages)


def run(weights, data):
    """Rows (variant, IoU per setting) for one weights file."""
    from model.weights import open_weights
    opened = open_weights(weights)
    model, meta = opened.build_model(), opened.metadata
    cases = settings(data)
    rows = []
    for label, context in ablations(model):
        with context:
            rows.append((label, [flood_iou(model, meta, data, coverage, idx) for _, coverage, idx in cases]))
    return [name for name, _, _ in cases], rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("weights", nargs="+", help=".pt EDC weights files")
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "ombria"), help="OMBRIA folder")
    args = parser.parse_args(argv)
    import torch
    torch.set_num_threads(min(2, torch.get_num_threads()))
    from bench.common import header
    print(header("branch ablation", f", OMBRIA test split, {FOCUS} IoU"))
    for weights in args.weights:
        names, rows = run(weights, args.data)
        print(f"## {weights}")
        print(f"{'variant':34s}" + "".join(f"{n:>16s}" for n in names))
        for label, values in rows:
            print(f"{label:34s}" + "".join(f"{v:16.4f}" for v in values))


if __name__ == "__main__":
    main()
