"""Convolutional stage body (stages 1-2 of every stream)."""

from torch import nn

from .layers import ConvBlock


class ConvBody(nn.Module):
    """``depth`` residual depthwise-separable blocks at constant width and resolution."""

    def __init__(self, dim, depth):
        super().__init__()
        self.blocks = nn.Sequential(*[ConvBlock(dim) for _ in range(depth)])

    def forward(self, x, reliability=None):  # reliability is only used by attention stages
        return self.blocks(x)
