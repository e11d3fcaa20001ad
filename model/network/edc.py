"""EDC: tri-stream carrier-token encoder with DCHF fusion, decoder and cloud-removal head (versions 1-3: config.py).

    optical --Stream--+                         +--> decoder --> logits
                      +-- DCHF (every stage) ---+
    SAR ----Stream----+   fusion stream         +--> cloud-removal head (optical + fusion) --> cloud-free optical
                          reliability r --------------------------------------------------> reliability
"""

import torch
from torch import nn

from .cloud_removal import CloudRemovalHead
from .config import full_config
from .dchf import DCHF
from .decoder import MultiScaleDecoder, UNetHead
from .layers import downsample, pad_to_multiple, upsample_to
from .stream import Stream, make_body

STRIDE = 32


class EDC(nn.Module):
    architecture = "edc"

    def __init__(self, config):
        super().__init__()
        self.config = c = full_config(config)
        dims, sar_dims = c["dims"], c["sar_dims"]
        self.optical = Stream(c["in_optical"], dims, c)
        self.sar = Stream(c["in_sar"], sar_dims, c)
        self.fusion_down = nn.ModuleList([downsample(dims[i], dims[i + 1]) for i in range(3)])
        self.dchf = nn.ModuleList([DCHF(dims[i], sar_dims[i], dims[i], make_body(c, i, dims[i]),
                                        feedback=c["feedback"] and i < 3, gate_input=c["gate"] == "input",
                                        sar_path=c["sar_path"], fusion=c["fusion"])
                                   for i in range(4)])
        if c["decoder"] == "unet":
            self.decoder = UNetHead(dims, c["num_classes"])
            self.cloud_removal = (CloudRemovalHead(dims[0], dims[0], c["in_optical"], c["decoder_dim"])
                                  if c["cloud_removal"] else None)
        else:
            self.decoder = MultiScaleDecoder(dims, c["decoder_dim"], c["num_classes"])
            self.cloud_removal = (CloudRemovalHead(dims[0], c["decoder_dim"], c["in_optical"])
                                  if c["cloud_removal"] else None)

    def forward(self, optical, sar, return_features=False):
        """Dict of logits (B,K,H,W), cloudfree (B,Co,H,W), reliability (B,1,H,W); with ``return_features`` also
        features (decoder output, B x decoder_dim (v1) or dims[0] (v2) at stride 4 of the input padded to a
        multiple of 32), fused (the four fusion-stream maps) and reliability_stages (the four DCHF maps r)."""
        h, w = optical.shape[-2:]
        optical = pad_to_multiple(optical, STRIDE, "replicate")
        sar = pad_to_multiple(sar, STRIDE, "replicate")
        opt, sr, fused = optical, sar, None
        feats, rels = [], []
        for i in range(4):
            opt, sr = self.optical.stages[i](opt), self.sar.stages[i](sr)
            prev = None if fused is None else self.fusion_down[i - 1](fused)
            fused, r, opt, sr = self.dchf[i](opt, sr, prev)
            if i == 0:
                opt_first = opt
            feats.append(fused)
            rels.append(r)
        dec, logits = self.decoder(feats)
        size = optical.shape[-2:]
        reliability = torch.stack([upsample_to(r, size) for r in rels], 0).mean(0)
        cloudfree = optical if self.cloud_removal is None else self.cloud_removal(optical, opt_first, dec)
        out = {"logits": upsample_to(logits, size)[..., :h, :w], "cloudfree": cloudfree[..., :h, :w],
               "reliability": reliability[..., :h, :w]}
        if return_features:
            out.update(features=dec, fused=feats, reliability_stages=rels)
        return out
