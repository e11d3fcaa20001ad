"""CloudSeg-style fusion of a mix with SAR and the previous fusion state (after CloudSeg, ISPRS J. 2024).

Multi-scale context on the mix (parallel depthwise 3x3 convolutions, dilations 1, 2, 4), then squeeze-excitation over
the concatenated three inputs (context, SAR, previous fusion state) re-weights their channels before a 1x1
projection, added to the previous state.  The dense tri-stream baseline fuses this way after its spatial gate; EDC
fuses this way with ``fusion: "cloudseg"`` (config.py) after DCHF's gate.
"""

import torch
from torch import nn

from .layers import ConvBN

DILATIONS = (1, 2, 4)
SE_REDUCTION = 4


class ContextFusion(nn.Module):
    """``forward(mix, sar, prev) -> prev + proj(se(z) * z)``, z = [context(mix) + mix, sar, prev]; all ``dim`` wide."""

    def __init__(self, dim, reduction=SE_REDUCTION):
        super().__init__()
        self._build(dim, reduction)

    def _build(self, dim, reduction=SE_REDUCTION):
        self.context = nn.ModuleList([nn.Conv2d(dim, dim, 3, padding=d, dilation=d, groups=dim) for d in DILATIONS])
        self.context_proj = ConvBN(dim, dim, act=True)
        self.se = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(3 * dim, 3 * dim // reduction, 1), nn.ReLU(),
                                nn.Conv2d(3 * dim // reduction, 3 * dim, 1), nn.Sigmoid())
        self.proj = ConvBN(3 * dim, dim)

    def forward(self, mix, sar, prev):
        ctx = self.context_proj(sum(conv(mix) for conv in self.context)) + mix
        z = torch.cat([ctx, sar, prev], 1)
        return prev + self.proj(z * self.se(z))
