"""Small building blocks shared by every network in this package."""

import torch
import torch.nn.functional as F
from torch import nn

NEG = -1.0e4  # additive attention bias that removes a key (finite, so ONNX export stays NaN-free)


class ConvBN(nn.Sequential):
    """Convolution + BatchNorm (+ GELU)."""

    def __init__(self, cin, cout, k=1, stride=1, groups=1, act=False):
        layers = [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
        if act:
            layers.append(nn.GELU())
        super().__init__(*layers)


class ConvBlock(nn.Module):
    """Residual depthwise-separable block: dw3x3-BN, 1x1 expand, GELU, 1x1 project."""

    def __init__(self, dim, expand=2):
        super().__init__()
        self.body = nn.Sequential(ConvBN(dim, dim, 3, groups=dim), nn.Conv2d(dim, dim * expand, 1), nn.GELU(),
                                  ConvBN(dim * expand, dim, 1))

    def forward(self, x):
        return x + self.body(x)


def downsample(cin, cout):
    """Stride-2 3x3 convolution that halves the resolution between stages."""
    return ConvBN(cin, cout, 3, stride=2)


def stem(cin, cout):
    """Stride-4 input stem (two stride-2 convolutions)."""
    return nn.Sequential(ConvBN(cin, max(cout // 2, 8), 3, stride=2, act=True), ConvBN(max(cout // 2, 8), cout, 3,
                                                                                        stride=2))


class DropPath(nn.Module):
    """Stochastic depth: in training, drop a residual branch for a random ``rate`` of the samples (and rescale the
    others); the identity at inference."""

    def __init__(self, rate=0.0):
        super().__init__()
        self.rate = float(rate)

    def forward(self, x):
        if not self.training or self.rate <= 0.0:
            return x
        keep = 1.0 - self.rate
        mask = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(keep)
        return x * mask / keep


class Mlp(nn.Sequential):
    def __init__(self, dim, ratio=2.0):
        hidden = int(dim * ratio)
        super().__init__(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))


class Attention(nn.Module):
    """Multi-head self-attention over tokens (B, N, C) with an optional additive per-key bias (B, N), or per head
    and key (B, heads, N).

    The bias is where reliability (log r) and padding masks enter.  Set ``keep_attention = True`` to store the last
    attention probabilities in ``last_attention`` (B, heads, N, N) for inspection in tests.
    """

    def __init__(self, dim, heads):
        super().__init__()
        assert dim % heads == 0, f"width {dim} is not divisible by {heads} heads"
        self.heads = heads
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)
        self.keep_attention = False
        self.last_attention = None

    def forward(self, x, key_bias=None):
        b, n, c = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4).unbind(0)
        if key_bias is None:
            mask = None
        elif key_bias.dim() == 3:  # per head
            mask = key_bias[:, :, None, :].to(q.dtype)
        else:
            mask = key_bias[:, None, None, :].to(q.dtype)
        if self.keep_attention:
            logits = (q @ k.transpose(-2, -1)) * (q.shape[-1] ** -0.5)
            if mask is not None:
                logits = logits + mask
            attn = logits.softmax(-1)
            self.last_attention = attn.detach()
            out = attn @ v
        else:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.proj(out.transpose(1, 2).reshape(b, n, c))


class TransformerBlock(nn.Module):
    """Pre-norm transformer block (attention + MLP).  EDC v2 options: ``drop_path`` (stochastic depth rate of both
    branches) and ``layer_scale`` (initial value of learnt per-channel branch scales; 0 = none)."""

    def __init__(self, dim, heads, mlp_ratio=2.0, drop_path=0.0, layer_scale=0.0):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.mlp = Mlp(dim, mlp_ratio)
        self.drop = DropPath(drop_path)
        if layer_scale:
            self.gamma1 = nn.Parameter(torch.full((dim,), float(layer_scale)))
            self.gamma2 = nn.Parameter(torch.full((dim,), float(layer_scale)))
        else:
            self.gamma1 = self.gamma2 = None

    def forward(self, x, key_bias=None):
        a = self.attn(self.norm1(x), key_bias)
        x = x + self.drop(a if self.gamma1 is None else self.gamma1 * a)
        m = self.mlp(self.norm2(x))
        return x + self.drop(m if self.gamma2 is None else self.gamma2 * m)


class AttentionCounter:
    """Context manager counting attention-matrix elements (batch x heads x queries x keys) of every Attention module.

    >>> with AttentionCounter(model) as counter: model(optical, sar)
    >>> counter.elements
    """

    def __init__(self, model):
        self.model, self.elements, self._hooks = model, 0, []

    def _hook(self, module, args, _output):
        b, n, _ = args[0].shape
        self.elements += b * module.heads * n * n

    def __enter__(self):
        self._hooks = [m.register_forward_hook(self._hook) for m in self.model.modules() if isinstance(m, Attention)]
        return self

    def __exit__(self, *exc):
        for h in self._hooks:
            h.remove()
        return False


def pad_to_multiple(x, multiple, mode="constant"):
    """Pad (B, C, H, W) at the bottom/right so H and W are multiples of ``multiple``."""
    h, w = x.shape[-2:]
    ph, pw = (multiple - h % multiple) % multiple, (multiple - w % multiple) % multiple
    return F.pad(x, (0, pw, 0, ph), mode=mode)


def upsample_to(x, size):
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)
