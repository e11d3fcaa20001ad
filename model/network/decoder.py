"""Light multi-scale decoder: every stage projected to one width, upsampled to stride 4, concatenated and fused."""

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
