"""Cloud-removal head: predicts the cloud-free optical image at full resolution as a residual on the input."""

import torch
import torch.nn.functional as F
from torch import nn

from .layers import ConvBN


class CloudRemovalHead(nn.Module):
    """From stride-4 optical and decoder features to a full-resolution correction (pixel shuffle x4)."""

    def __init__(self, opt_dim, dec_dim, out_channels, dim=None):
        super().__init__()
        dim = dim or dec_dim
        self.body = nn.Sequential(ConvBN(opt_dim + dec_dim, dim, 1, act=True), ConvBN(dim, dim, 3, groups=dim,
                                                                                      act=True))
        self.out = nn.Conv2d(dim, out_channels * 16, 1)

    def forward(self, optical, opt_feat, dec_feat):
        delta = F.pixel_shuffle(self.out(self.body(torch.cat([opt_feat, dec_feat], 1))), 4)
        return optical + delta
