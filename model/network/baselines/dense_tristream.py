"""Dense tri-stream baseline: the "previous best" kind of model (after CloudSeg, ISPRS J. 2024).

Structure (all widths = the config's ``dims``, i.e. three FULL-width encoders; the comparison in model/stats.py uses
the ``base`` preset, whose widths 64-128-256-512 are those of EDC-base):
- optical, SAR and fusion encoders, each: stride-4 stem, stages at strides 4/8/16/32; stages 1-2 convolutional
  (same residual blocks as EDC), stages 3-4 transformer blocks with DENSE global self-attention over all tokens of
  the stage (cost quadratic in pixels) where EDC uses carrier tokens;
- a CloudSeg-style fusion module after every stage: a spatial gate computed from the optical-minus-SAR difference
  (mean/max over channels -> 7x7 conv -> sigmoid) mixes optical and SAR; multi-scale context on the mix (parallel
  depthwise 3x3 convolutions, dilations 1, 2, 4); squeeze-excitation over the concatenated three streams (context,
  SAR, previous fusion state) re-weights their channels before a 1x1 projection; the fusion encoder's stage body
  then runs on the result;
- a U-Net-like decoder (upsample, concatenate the skip from the fusion stream, two 3x3 conv-BN-GELU) back to
  stride 4, a 1x1 classifier and the same cloud-removal head as EDC.
Reliability output: the stage-1 spatial gate (the model's own per-pixel optical weight), upsampled.
"""

import torch
from torch import nn

from ..cloud_removal import CloudRemovalHead
from ..config import full_config
from ..context_fusion import ContextFusion
from ..conv_stage import ConvBody
from ..decoder import UNetDecoder
from ..layers import ConvBN, TransformerBlock, downsample, pad_to_multiple, stem, upsample_to

STRIDE = 32


class DenseAttentionStage(nn.Module):
    """Transformer blocks with global self-attention over all H*W tokens (plus a depthwise-conv position term)."""

    def __init__(self, dim, depth, heads, mlp_ratio=2.0):
        super().__init__()
        self.pos = ConvBN(dim, dim, 3, groups=dim)
        self.blocks = nn.ModuleList([TransformerBlock(dim, heads, mlp_ratio) for _ in range(depth)])

    def forward(self, x):
        b, c, h, w = x.shape
        x = x + self.pos(x)
        tokens = x.flatten(2).transpose(1, 2)
        for block in self.blocks:
            tokens = block(tokens)
        return tokens.transpose(1, 2).reshape(b, c, h, w)


def dense_body(config, stage, dim):
    if stage < 2:
        return ConvBody(dim, config["depths"][stage])
    return DenseAttentionStage(dim, config["depths"][stage], config["heads"][stage - 2], config["mlp_ratio"])


class DenseEncoder(nn.Module):
    def __init__(self, in_channels, dims, config):
        super().__init__()
        self.stages = nn.ModuleList(
            nn.Sequential(stem(in_channels, d) if i == 0 else downsample(dims[i - 1], d), dense_body(config, i, d))
            for i, d in enumerate(dims))


class CloudSegFusion(ContextFusion):
    """Difference-gated, multi-scale, squeeze-excited fusion of optical, SAR and the previous fusion state."""

    def __init__(self, dim):
        nn.Module.__init__(self)  # the gate first, as before the shared block: same seeded values, parameter order
        self.gate = nn.Sequential(nn.Conv2d(2, 1, 7, padding=3), nn.Sigmoid())  # (an optimizer's state follows it)
        self._build(dim)

    def forward(self, opt, sar, prev):
        diff = opt - sar
        gate = self.gate(torch.cat([diff.mean(1, keepdim=True), diff.amax(1, keepdim=True)], 1))
        mix = gate * opt + (1.0 - gate) * sar
        return super().forward(mix, sar, mix if prev is None else prev), gate


class DenseTriStream(nn.Module):
    architecture = "dense_tristream"

    def __init__(self, config):
        super().__init__()
        self.config = c = full_config(config)
        dims = c["dims"]
        self.optical = DenseEncoder(c["in_optical"], dims, c)
        self.sar = DenseEncoder(c["in_sar"], dims, c)
        self.fusion_down = nn.ModuleList([downsample(dims[i], dims[i + 1]) for i in range(3)])
        self.fusion_body = nn.ModuleList([dense_body(c, i, d) for i, d in enumerate(dims)])
        self.fusion = nn.ModuleList([CloudSegFusion(d) for d in dims])
        self.decoder = UNetDecoder(dims)
        self.classifier = nn.Conv2d(dims[0], c["num_classes"], 1)
        self.cloud_removal = CloudRemovalHead(dims[0], dims[0], c["in_optical"], c["decoder_dim"])

    def forward(self, optical, sar, return_features=False):
        h, w = optical.shape[-2:]
        optical = pad_to_multiple(optical, STRIDE, "replicate")
        sar = pad_to_multiple(sar, STRIDE, "replicate")
        opt, sr, fused, feats = optical, sar, None, []
        for i in range(4):
            opt, sr = self.optical.stages[i](opt), self.sar.stages[i](sr)
            prev = None if fused is None else self.fusion_down[i - 1](fused)
            fused, gate = self.fusion[i](opt, sr, prev)
            fused = self.fusion_body[i](fused)
            if i == 0:
                gate_first, opt_first = gate, opt
            feats.append(fused)
        dec = self.decoder(feats)
        size = optical.shape[-2:]
        out = {"logits": upsample_to(self.classifier(dec), size)[..., :h, :w],
               "cloudfree": self.cloud_removal(optical, opt_first, dec)[..., :h, :w],
               "reliability": upsample_to(gate_first, size)[..., :h, :w]}
        if return_features:
            out.update(features=dec, fused=feats)
        return out
