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
RELIABILITY_SCALE_INIT = 0.1  # v2: initial per-head scale of the log r key bias
RELIABILITY_FLOOR = 1e-3      # v2: added to r in the carrier pooling weights, so an all-cloud region still averages


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

    def __init__(self, dim, heads, mlp_ratio=2.0, drop_path=0.0, layer_scale=0.0):
        super().__init__()
        self.carrier_block = TransformerBlock(dim, heads, mlp_ratio, drop_path, layer_scale)
        self.window_block = TransformerBlock(dim, heads, mlp_ratio, drop_path, layer_scale)

    def forward(self, windows, carriers, carrier_bias, window_bias):
        # windows (B*nW, w*w, C); carriers (B, nW*cc, C); carrier_bias (B, nW*cc, h); window_bias (B*nW, w*w, h)
        # where h is 1 (one bias for all heads) or the number of heads
        b, n_c, dim = carriers.shape
        n_win = windows.shape[0]
        carriers = self.carrier_block(carriers, carrier_bias.transpose(1, 2))
        per_window = carriers.reshape(n_win, -1, dim)
        cc = per_window.shape[1]
        z = torch.cat([per_window, windows], 1)
        heads = carrier_bias.shape[-1]
        bias = torch.cat([carrier_bias.reshape(n_win, cc, heads), window_bias.expand(-1, -1, heads)], 1)
        z = self.window_block(z, bias.transpose(1, 2))
        return z[:, cc:], z[:, :cc].reshape(b, n_c, dim)


class CarrierStage(nn.Module):
    """Body of an attention stage: ``depth`` HAT blocks at constant width; input and output (B, C, H, W).

    EDC v1 (defaults): carriers are plain averages of their region; a given reliability adds log r (mean r of the
    region) to every head's logits towards the carrier.  EDC v2 switches:
    - ``mask_padding``: windows' carrier tokens that cover no valid pixel (only padding to the window grid) are
      removed as keys everywhere, in every stream (as the padded pixels already are), so a crop whose map is not a
      multiple of the window trains as a tile that is;
    - ``pooled_reliability``: with a reliability map, carriers are r-weighted averages (sum r x / sum r) of their
      region, and the key bias is ``scale_h * log r`` with a learnt per-head scale (initialised at
      ``RELIABILITY_SCALE_INIT``), so that the network decides how much cloudy regions' carriers are ignored.
    """

    def __init__(self, dim, depth, heads, window, carriers=1, mlp_ratio=2.0, mask_padding=False,
                 pooled_reliability=False, drop_path=0.0, layer_scale=0.0):
        super().__init__()
        if window % carriers:
            raise ValueError(f"window {window} must be a multiple of carriers per side {carriers}")
        self.window, self.carriers = window, carriers
        self.mask_padding = bool(mask_padding)
        self.pos = ConvBN(dim, dim, 3, groups=dim)
        self.carrier_init = ConvBN(dim, dim, 3, groups=dim)
        self.blocks = nn.ModuleList([HATBlock(dim, heads, mlp_ratio, drop_path, layer_scale) for _ in range(depth)])
        self.reliability_scale = (nn.Parameter(torch.full((heads,), RELIABILITY_SCALE_INIT))
                                  if pooled_reliability else None)

    def _carriers(self, xp, valid, reliability, cell):
        """Carrier tokens (B, C, rows*c, cols*c) and their key bias (B, 1 or heads, rows*c, cols*c)."""
        feats = self.carrier_init(xp)
        if reliability is None:
            return masked_pool(feats, valid, cell), torch.zeros_like(feats[:, :1, ::cell, ::cell])
        r_pad = pad_to_multiple(reliability, self.window)
        log_r = torch.log(masked_pool(r_pad, valid, cell).clamp(MIN_RELIABILITY, 1.0))
        if self.reliability_scale is None:
            return masked_pool(feats, valid, cell), log_r
        weight = valid * (r_pad + RELIABILITY_FLOOR)
        carriers = F.avg_pool2d(feats * weight, cell) / F.avg_pool2d(weight, cell).clamp_min(1e-6)
        return carriers, log_r * self.reliability_scale[None, :, None, None]

    def forward(self, x, reliability=None):
        b, dim, h, w = x.shape
        win, cell = self.window, self.window // self.carriers
        x = x + self.pos(x)
        valid = pad_to_multiple(torch.ones_like(x[:, :1]), win)
        xp = pad_to_multiple(x, win)
        rows, cols = xp.shape[-2] // win, xp.shape[-1] // win

        carriers, carrier_bias = self._carriers(xp, valid, reliability, cell)
        if self.mask_padding:  # carriers over padding only are no keys
            carrier_bias = carrier_bias + (F.max_pool2d(valid, cell) < 0.5) * NEG
        heads = carrier_bias.shape[1]
        carrier_bias = to_windows(carrier_bias, self.carriers).reshape(b, -1, heads)
        carriers = to_windows(carriers, self.carriers).reshape(b, -1, dim)
        windows = to_windows(xp, win)
        window_bias = to_windows((1.0 - valid) * NEG, win)

        for block in self.blocks:
            windows, carriers = block(windows, carriers, carrier_bias, window_bias)

        out = from_windows(windows, b, rows, cols, win)
        grid = from_windows(carriers.reshape(-1, self.carriers ** 2, dim), b, rows, cols, self.carriers)
        out = out + grid[:, :, :, None, :, None].expand(-1, -1, -1, cell, -1, cell).reshape(out.shape)
        return out[:, :, :h, :w]


class GlobalStage(nn.Module):
    """EDC v2's last stage: plain global attention over all tokens (few at stride 32), as FasterViT's last stage.

    With a reliability map (fusion stream) every head's logits towards a token get ``scale_h * log r`` (learnt
    per-head scale, initialised small), as the carriers of :class:`CarrierStage` do.
    """

    def __init__(self, dim, depth, heads, mlp_ratio=2.0, pooled_reliability=False, drop_path=0.0, layer_scale=0.0):
        super().__init__()
        self.pos = ConvBN(dim, dim, 3, groups=dim)
        self.blocks = nn.ModuleList([TransformerBlock(dim, heads, mlp_ratio, drop_path, layer_scale)
                                     for _ in range(depth)])
        self.reliability_scale = (nn.Parameter(torch.full((heads,), RELIABILITY_SCALE_INIT))
                                  if pooled_reliability else None)

    def forward(self, x, reliability=None):
        b, c, h, w = x.shape
        x = x + self.pos(x)
        tokens = x.flatten(2).transpose(1, 2)
        bias = None
        if reliability is not None and self.reliability_scale is not None:
            log_r = torch.log(reliability.clamp(MIN_RELIABILITY, 1.0)).flatten(1)  # (B, N)
            bias = log_r[:, None, :] * self.reliability_scale[None, :, None]
        for block in self.blocks:
            tokens = block(tokens, bias)
        return tokens.transpose(1, 2).reshape(b, c, h, w)
