"""DCHF: discrepancy-conditioned hybrid fusion, applied after every encoder stage.

1. Project optical and SAR features to a shared space (1x1 conv + BN each).
2. Discrepancy: per-pixel squared difference of the projections; a small conv head turns it into a reliability map
   r in (0, 1) (low where optical disagrees with SAR, as under clouds).
3. Local part: a pixel gate g decides the optical/SAR mix; in v1 r scales it (m = r * g), so unreliable optical
   evidence is replaced by SAR; in v2 (``gate_input``) r is one of the gate's inputs (m = g(optical, SAR, r)), so
   thin cloud need not switch to SAR; the mix is fused with the previous fusion state.  With ``sar_path`` the SAR
   projection is also an input of that fusion in its own right, so SAR evidence reaches the fusion stream where the
   gate keeps optical (clouds corrupt optical, never SAR, so only the optical share needs gating).  With ``fusion``
   "cloudseg" the mix, SAR and the previous state are fused as the dense baseline fuses them (context_fusion.py:
   dilated context on the mix, squeeze-excitation over the three) instead of by one 1x1 convolution.
4. Global part: the fusion stream's stage body runs on the local fusion with r; at attention stages its carrier
   tokens carry pooled r and log r biases their attention logits (see carrier_attention.py).
5. Gated residual feedback: the fused features flow back into both streams (value * sigmoid(gate)), except after
   the last stage (``feedback`` False: never; the streams then stay independent, as in the dense baseline).
"""

import torch
from torch import nn

from .context_fusion import ContextFusion
from .layers import ConvBN

GATE_R_WEIGHT = 4.0  # v2: initial weight of r in the gate (r = 1 -> sigmoid(2), r = 0 -> sigmoid(-2))


class Feedback(nn.Module):
    """Gated residual ``x + sigmoid(gate(f)) * value(f)``; gate bias starts low so streams start nearly untouched."""

    def __init__(self, cin, cout):
        super().__init__()
        self.cout = cout
        self.conv = nn.Conv2d(cin, 2 * cout, 1)
        nn.init.constant_(self.conv.bias[cout:], -2.0)

    def forward(self, x, fused):
        value, gate = self.conv(fused).split(self.cout, 1)
        return x + torch.sigmoid(gate) * value


class DCHF(nn.Module):
    """Fuse one stage.  ``forward(opt, sar, prev, fusion_body) -> fused, reliability, opt, sar``."""

    def __init__(self, opt_dim, sar_dim, dim, fusion_body, feedback=True, gate_input=False, sar_path=False,
                 fusion="conv"):
        super().__init__()
        self.proj_opt, self.proj_sar = ConvBN(opt_dim, dim), ConvBN(sar_dim, dim)
        self.reliability = nn.Sequential(ConvBN(dim, dim, 3, groups=dim, act=True), nn.Conv2d(dim, 1, 1))
        nn.init.constant_(self.reliability[1].bias, 2.0)  # start trusting optical (r ~ 0.88)
        self.gate_input = bool(gate_input)
        self.gate = nn.Conv2d(2 * dim + int(self.gate_input), 1, 1)
        if self.gate_input:  # start close to v1's r * g: high r opens the gate to optical, low r closes it
            with torch.no_grad():
                self.gate.weight[:, -1] = GATE_R_WEIGHT
                self.gate.bias.fill_(-GATE_R_WEIGHT / 2)
        self.sar_path = bool(sar_path)
        self.fuse = ContextFusion(dim) if fusion == "cloudseg" else ConvBN((3 if self.sar_path else 2) * dim, dim)
        self.body = fusion_body
        # no feedback after the last stage (no later stage), nor with ``feedback`` False
        self.back_opt = Feedback(dim, opt_dim) if feedback else None
        self.back_sar = Feedback(dim, sar_dim) if feedback else None

    def forward(self, opt, sar, prev=None):
        po, ps = self.proj_opt(opt), self.proj_sar(sar)
        r = torch.sigmoid(self.reliability((po - ps) ** 2))
        if self.gate_input:
            m = torch.sigmoid(self.gate(torch.cat([po, ps, r], 1)))
        else:
            m = r * torch.sigmoid(self.gate(torch.cat([po, ps], 1)))
        local = m * po + (1.0 - m) * ps
        prev = local if prev is None else prev
        fused = self.body(self._fuse(local, ps, prev), reliability=r)
        if self.back_opt is not None:
            opt, sar = self.back_opt(opt, fused), self.back_sar(sar, fused)
        return fused, r, opt, sar

    def _fuse(self, local, ps, prev):
        if isinstance(self.fuse, ContextFusion):  # takes SAR in its own right: sar_path changes nothing here
            return self.fuse(local, ps, prev)
        return prev + self.fuse(torch.cat([local, ps, prev] if self.sar_path else [local, prev], 1))
