"""Decoders: EDC v1's light multi-scale head (every stage projected to one width, upsampled to stride 4, concatenated
and fused) and the U-Net decoder with full-width skips (the dense baseline's, and EDC v2's)."""

import torch
from torch import nn

from .layers import ConvBN, upsample_to


class MultiScaleDecoder(nn.Module):
    """``forward([f1..f4]) -> (features (B, D, H/4, W/4), logits (B, K, H/4, W/4))``."""

    def __init__(self, dims, dim, num_classes):
        super().__init__()
        self.lateral = nn.ModuleList([ConvBN(d, dim) for d in dims])
        self.fuse = nn.Sequential(ConvBN(dim * len(dims), dim, act=True), ConvBN(dim, dim, 3, act=True))
        self.classifier = nn.Conv2d(dim, num_classes, 1)

    def forward(self, feats):
        size = feats[0].shape[-2:]
        x = torch.cat([upsample_to(lat(f), size) if i else lat(f)
                       for i, (lat, f) in enumerate(zip(self.lateral, feats))], 1)
        features = self.fuse(x)
        return features, self.classifier(features)


class UNetDecoder(nn.Module):
    """From stride 32 back to stride 4: upsample, concatenate the full-width skip, two 3x3 conv-BN-GELU.
    ``forward([f1..f4]) -> features (B, dims[0], H/4, W/4)``."""

    def __init__(self, dims):
        super().__init__()
        self.reduce = nn.ModuleList([ConvBN(dims[i + 1], dims[i], act=True) for i in range(len(dims) - 1)])
        self.blocks = nn.ModuleList([nn.Sequential(ConvBN(2 * dims[i], dims[i], 3, act=True),
                                                   ConvBN(dims[i], dims[i], 3, act=True))
                                     for i in range(len(dims) - 1)])

    def forward(self, feats):
        x = feats[-1]
        for i in reversed(range(len(feats) - 1)):
            x = upsample_to(self.reduce[i](x), feats[i].shape[-2:])
            x = self.blocks[i](torch.cat([x, feats[i]], 1))
        return x


class UNetHead(nn.Module):
    """:class:`UNetDecoder` and a 1x1 classifier; same interface as :class:`MultiScaleDecoder`."""

    def __init__(self, dims, num_classes):
        super().__init__()
        self.unet = UNetDecoder(dims)
        self.classifier = nn.Conv2d(dims[0], num_classes, 1)

    def forward(self, feats):
        features = self.unet(feats)
        return features, self.classifier(features)
