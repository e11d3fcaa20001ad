"""Single-stream baselines: optical-only, SAR-only and early concatenation (optical + SAR stacked as one input).

Same encoder (conv stages 1-2, carrier-token attention stages 3-4), decoder and cloud-removal head as EDC, with the
optical widths (``dims``) of the config.  Reliability is all ones (these models have none).
"""

import torch
from torch import nn

from ..cloud_removal import CloudRemovalHead
from ..config import full_config
from ..decoder import MultiScaleDecoder
from ..layers import pad_to_multiple, upsample_to
from ..stream import Stream

STRIDE = 32
MODES = ("optical_only", "sar_only", "early_concat")


class SingleStream(nn.Module):
    def __init__(self, config, mode):
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"unknown single-stream mode {mode!r}")
        self.config = c = full_config(config)
        self.mode = self.architecture = mode
        channels = {"optical_only": c["in_optical"], "sar_only": c["in_sar"],
                    "early_concat": c["in_optical"] + c["in_sar"]}[mode]
        self.encoder = Stream(channels, c["dims"], c)
        self.decoder = MultiScaleDecoder(c["dims"], c["decoder_dim"], c["num_classes"])
        self.cloud_removal = CloudRemovalHead(c["dims"][0], c["decoder_dim"], c["in_optical"])

    def forward(self, optical, sar, return_features=False):
        h, w = optical.shape[-2:]
        optical = pad_to_multiple(optical, STRIDE, "replicate")
        sar = pad_to_multiple(sar, STRIDE, "replicate")
        x = {"optical_only": optical, "sar_only": sar, "early_concat": torch.cat([optical, sar], 1)}[self.mode]
        feats = self.encoder(x)
        dec, logits = self.decoder(feats)
        size = optical.shape[-2:]
        # the SAR-only model never sees optical pixels: its cloud-free estimate is predicted from zero
        base = optical * 0.0 if self.mode == "sar_only" else optical
        cloudfree = self.cloud_removal(base, feats[0], dec)
        out = {"logits": upsample_to(logits, size)[..., :h, :w], "cloudfree": cloudfree[..., :h, :w],
               "reliability": torch.ones_like(optical[:, :1])[..., :h, :w]}
        if return_features:
            out.update(features=dec, fused=feats)
        return out
