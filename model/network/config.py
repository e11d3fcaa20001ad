"""Presets.  Widths, depths, heads, window size and carriers are plain JSON stored in the weights metadata.

- dims / sar_dims: widths of the optical (= fusion) and SAR streams at strides 4, 8, 16, 32.
- depths: blocks per stage; stages 1-2 are convolutional, stages 3-4 carrier-token attention.
- heads: attention heads of stages 3-4.  window: window side (tokens) at stages 3-4.  carriers: carrier tokens per
  window side (carriers**2 per window).
- cloud_removal: False builds the distillation teacher (no cloud-removal head; ``cloudfree`` echoes the input).

EDC network versions (``edc_version``; files without the key are version 1, and every switch below then has its v1
value, so older weights build exactly as before).  Version 2 (``V2_OPTIONS``) changes, each switchable for ablations:
- decoder: "multiscale" (v1: light head, every stage projected to ``decoder_dim``) or "unet" (v2: full-width skips
  from the fusion stream, as the dense baseline's decoder);
- mask_padding: v2 removes carrier tokens that cover only window padding from attention, in every stream;
- stage4: "carrier" (v1) or "global" (v2: plain global attention over the stride-32 tokens; carriers at stage 3 only);
- reliability: "bias" (v1: plain carrier averages, log r key bias) or "pooled" (v2: r-weighted carrier pooling and a
  learnt per-head scale on log r);
- gate: "product" (v1: m = r * g) or "input" (v2: r is an input of the gate, m = g(optical, SAR, r));
- sar_path: False (v1, v2) or True: the SAR projection is also a direct input of DCHF's fusion, not only through the
  gated optical/SAR mix (an option of both versions; files without the key build without it);
- fusion: "conv" (v1, v2: one 1x1 convolution fuses the mix with the previous state) or "cloudseg" (v3: the
  dense baseline's fusion after DCHF's gate: dilated context, squeeze-excitation over mix, SAR and previous state;
  SAR is one of its inputs, so sar_path adds nothing to it);
- feedback: True (v1-v3: the fused features flow back into the optical and SAR streams after stages 1-3) or False;
- mlp_ratio (v2: 4), drop_path (stochastic depth rate at the attention stages), layer_scale (initial branch scale,
  0 = none).
Version 3 (``V3_OPTIONS``) is version 2 with ``fusion: "cloudseg"``.

Baselines read the same keys (single-stream models use ``dims``; the dense tri-stream uses ``dims`` for all three
encoders).  The efficiency comparison (model/stats.py) sets EDC-small against the dense tri-stream built from the
``base`` preset, i.e. with EDC-base widths 64-128-256-512 and depths 2-2-6-2, a typical "previous best" size.
"""

import copy

from ..vocabulary import EDC_VERSIONS, SAR_WIDTH_RANGE

PRESETS = {
    "tiny": {"dims": [16, 32, 48, 64], "sar_dims": [8, 16, 24, 32], "depths": [1, 1, 1, 1], "heads": [2, 2],
             "window": [4, 4], "carriers": 1, "decoder_dim": 16, "mlp_ratio": 2.0},
    "small": {"dims": [48, 96, 192, 288], "sar_dims": [24, 48, 96, 144], "depths": [1, 2, 3, 1], "heads": [6, 9],
              "window": [8, 8], "carriers": 2, "decoder_dim": 64, "mlp_ratio": 2.0},
    "base": {"dims": [64, 128, 256, 512], "sar_dims": [32, 64, 128, 256], "depths": [2, 2, 6, 2], "heads": [8, 16],
             "window": [8, 8], "carriers": 2, "decoder_dim": 128, "mlp_ratio": 2.0},
}


# every version switch with its v1 value (what a file without the key means)
V1_OPTIONS = {"edc_version": 1, "decoder": "multiscale", "mask_padding": False, "stage4": "carrier",
              "reliability": "bias", "gate": "product", "sar_path": False, "fusion": "conv", "feedback": True,
              "drop_path": 0.0, "layer_scale": 0.0}
V2_OPTIONS = {"edc_version": 2, "decoder": "unet", "mask_padding": True, "stage4": "global", "reliability": "pooled",
              "gate": "input", "mlp_ratio": 4.0, "drop_path": 0.0, "layer_scale": 0.0}
# version 3: v2 with the CloudSeg fusion after DCHF's gate (the model card's four-seed comparison)
V3_OPTIONS = dict(V2_OPTIONS, edc_version=3, fusion="cloudseg")
VERSION_OPTIONS = {2: V2_OPTIONS, 3: V3_OPTIONS}
CHOICES = {"decoder": ("multiscale", "unet"), "stage4": ("carrier", "global"), "reliability": ("bias", "pooled"),
           "gate": ("product", "input"), "fusion": ("conv", "cloudseg")}


def preset_config(name, in_optical, in_sar, num_classes, version=1, **overrides):
    """A full build_model config: preset ``name`` plus the input band counts and number of classes; ``version`` 2 or
    3 adds that version's options (``VERSION_OPTIONS``; baselines ignore them)."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    if version not in EDC_VERSIONS:
        raise ValueError(f"unknown EDC network version {version!r}; this plugin builds versions "
                         f"{', '.join(map(str, EDC_VERSIONS))}")
    config = copy.deepcopy(PRESETS[name])
    config.update(VERSION_OPTIONS.get(version, {}))
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
    base.update(V1_OPTIONS)
    base.update(config)
    for key in ("in_optical", "in_sar", "num_classes"):
        if key not in base:
            raise ValueError(f"model config lacks {key!r}")
    if base["edc_version"] not in EDC_VERSIONS:
        raise ValueError(f"EDC network version {base['edc_version']!r} is newer than this plugin, which builds "
                         f"versions {', '.join(map(str, EDC_VERSIONS))}; update the plugin to use these weights")
    for key, choices in CHOICES.items():
        if base[key] not in choices:
            raise ValueError(f"config {key!r} is {base[key]!r}; choose one of {', '.join(choices)}")
    return base
