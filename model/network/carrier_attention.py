"""Hierarchical attention with carrier tokens (after FasterViT), used at stages 3-4.

The feature map is cut into w x w windows.  Each window is summarised by c x c carrier tokens (masked average
pooling of a depthwise-conv embedding).  In every block the carrier tokens of all windows first attend to each other
(global context), then each window's pixels attend within the window together with that window's carrier tokens
(local detail + global summary).  At the end of the stage the carrier tokens are added back to the pixels of their
region.  Cost: window attention is (w^2 + c^2)^2 per window, i.e. linear in pixels; the global carrier attention is
quadratic in the number of carriers (pixels / (w/c)^2), a term that is small at the sizes this plugin tiles.

Reliability: when a reliability map r (B, 1, H, W) is given (the fusion stream), each carrier token carries the mean
r of its region and log r is added to the attention logits of every query towards that carrier (as a key bias), so
carriers of unreliable (e.g. cloudy) regions receive less attention mass in global and local aggregation.
"""

import torch
import torch.nn.functional as F
from torch import nn

from .layers import NEG, ConvBN, TransformerBlock, pad_to_multiple

MIN_RELIABILITY = 1e-4


def to_windows(x, size):
    """(B, C, H, W) -> (B * windows, size * size, C); H and W must be multiples of size."""
    b, c, h, w = x.shape
    x = x.reshape(b, c, h // size, size, w // size, size).permute(0, 2, 4, 3, 5, 1)
    return x.reshape(-1, size * size, c)


def from_windows(x, batch, rows, cols, size):
    """Inverse of :func:`to_windows`; ``rows``/``cols`` count windows."""
    c = x.shape[-1]
    x = x.reshape(batch, rows, cols, size, size, c).permute(0, 5, 1, 3, 2, 4)
    return x.reshape(batch, c, rows * size, cols * size)


def masked_pool(x, valid, k):
    """Average of ``x`` over k x k cells, counting only valid (un-padded) pixels."""
    return F.avg_pool2d(x * valid, k) / F.avg_pool2d(valid, k).clamp_min(1e-6)


class HATBlock(nn.Module):
    """One hierarchical-attention block: global carrier attention, then window+carrier attention."""

    def __init__(self, dim, heads, mlp_ratio=2.0):
        super().__init__()
        self.carrier_block = TransformerBlock(dim, heads, mlp_ratio)
        self.window_block = TransformerBlock(dim, heads, mlp_ratio)

    def forward(self, windows, carriers, carrier_bias, window_bias):
        # windows (B*nW, w*w, C); carriers (B, nW*cc, C); carrier_bias (B, nW*cc); window_bias (B*nW, w*w)
        b, n_c, dim = carriers.shape
        n_win = windows.shape[0]
        carriers = self.carrier_block(carriers, carrier_bias)
        per_window = carriers.reshape(n_win, -1, dim)
        cc = per_window.shape[1]
        z = torch.cat([per_window, windows], 1)
        bias = torch.cat([carrier_bias.reshape(n_win, cc), window_bias], 1)
        z = self.window_block(z, bias)
        return z[:, cc:], z[:, :cc].reshape(b, n_c, dim)


class CarrierStage(nn.Module):
    """Body of an attention stage: ``depth`` HAT blocks at constant width; input and output (B, C, H, W)."""

    def __init__(self, dim, depth, heads, window, carriers=1, mlp_ratio=2.0):
        super().__init__()
        if window % carriers:
            raise ValueError(f"window {window} must be a multiple of carriers per side {carriers}")
        self.window, self.carriers = window, carriers
        self.pos = ConvBN(dim, dim, 3, groups=dim)
        self.carrier_init = ConvBN(dim, dim, 3, groups=dim)
        self.blocks = nn.ModuleList([HATBlock(dim, heads, mlp_ratio) for _ in range(depth)])

    def forward(self, x, reliability=None):
        b, dim, h, w = x.shape
        win, cell = self.window, self.window // self.carriers
        x = x + self.pos(x)
        valid = pad_to_multiple(torch.ones_like(x[:, :1]), win)
        xp = pad_to_multiple(x, win)
        rows, cols = xp.shape[-2] // win, xp.shape[-1] // win

        carriers = masked_pool(self.carrier_init(xp), valid, cell)  # (B, C, rows*c, cols*c)
        if reliability is None:
            carrier_bias = torch.zeros_like(carriers[:, 0])
        else:
            r = masked_pool(pad_to_multiple(reliability, win), valid, cell)[:, 0]
            carrier_bias = torch.log(r.clamp(MIN_RELIABILITY, 1.0))
        carrier_bias = to_windows(carrier_bias[:, None], self.carriers).reshape(b, -1)
        carriers = to_windows(carriers, self.carriers).reshape(b, -1, dim)
        windows = to_windows(xp, win)
        window_bias = to_windows((1.0 - valid) * NEG, win)[..., 0]

        for block in self.blocks:
            windows, carriers = block(windows, carriers, carrier_bias, window_bias)

        out = from_windows(windows, b, rows, cols, win)
        grid = from_windows(carriers.reshape(-1, self.carriers ** 2, dim), b, rows, cols, self.carriers)
        out = out + grid[:, :, :, None, :, None].expand(-1, -1, -1, cell, -1, cell).reshape(out.shape)
        return out[:, :, :h, :w]
