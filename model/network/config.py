"""Presets.  Widths, depths, heads, window size and carriers are plain JSON stored in the weights metadata.

- dims / sar_dims: widths of the optical (= fusion) and SAR streams at strides 4, 8, 16, 32.
- depths: blocks per stage; stages 1-2 are convolutional, stages 3-4 carrier-token attention.
- heads: attention heads of stages 3-4.  window: window side (tokens) at stages 3-4.  carriers: carrier tokens per
  window side (carriers**2 per window).
- cloud_removal: False builds the distillation teacher (no cloud-removal head; ``cloudfree`` echoes the input).

Baselines read the same keys (single-stream models use ``dims``; the dense tri-stream uses ``dims`` for all three
encoders).  The efficiency comparison (model/stats.py) sets EDC-small against the dense tri-stream built from the
``base`` preset, i.e. with EDC-base widths 64-128-256-512 and depths 2-2-6-2, a typical "previous best" size.
"""

import copy

from ..vocabulary import SAR_WIDTH_RANGE

PRESETS = {
    "tiny": {"dims": [16, 32, 48, 64], "sar_dims": [8, 16, 24, 32], "depths": [1, 1, 1, 1], "heads": [2, 2],
             "window": [4, 4], "carriers": 1, "decoder_dim": 16, "mlp_ratio": 2.0},
    "small": {"dims": [48, 96, 192, 288], "sar_dims": [24, 48, 96, 144], "depths": [1, 2, 3, 1], "heads": [6, 9],
              "window": [8, 8], "carriers": 2, "decoder_dim": 64, "mlp_ratio": 2.0},
    "base": {"dims": [64, 128, 256, 512], "sar_dims": [32, 64, 128, 256], "depths": [2, 2, 6, 2], "heads": [8, 16],
             "window": [8, 8], "carriers": 2, "decoder_dim": 128, "mlp_ratio": 2.0},
}


def preset_config(name, in_optical, in_sar, num_classes, **overrides):
    """A full build_model config: preset ``name`` plus the input band counts and number of classes."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    config = copy.deepcopy(PRESETS[name])
    config.update(preset=name, in_optical=int(in_optical), in_sar=int(in_sar), num_classes=int(num_classes),
                  cloud_removal=True)
    config.update(overrides)
    return config



def sar_dims_for(config, ratio):
    """SAR stream widths at ``ratio`` times the optical widths ``config["dims"]``: attention stages (3-4) are rounded
    to a multiple of their head count, convolutional stages (1-2) to a multiple of 4.  ratio 0.5 gives the presets'
    own ``sar_dims``; 1.0 a SAR stream as wide as the optical one."""
    low, high = SAR_WIDTH_RANGE
    if not low <= float(ratio) <= high:
        raise ValueError(f"SAR stream width ratio {ratio} is outside {low:g}..{high:g}")
    widths = []
    for stage, dim in enumerate(config["dims"]):
        step = config["heads"][stage - 2] if stage >= 2 else 4
        widths.append(max(step, int(round(dim * float(ratio) / step)) * step))
    return widths


def full_config(config):
    """Fill missing keys from the named (or small) preset, so older/shorter configs still build."""
    base = copy.deepcopy(PRESETS[config.get("preset", "small")] if config.get("preset") in PRESETS
                         else PRESETS["small"])
    base.update(cloud_removal=True)
    base.update(config)
    for key in ("in_optical", "in_sar", "num_classes"):
        if key not in base:
            raise ValueError(f"model config lacks {key!r}")
    return base
