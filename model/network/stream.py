"""One encoder stream: a stem and four stages at strides 4, 8, 16, 32 (conv, conv, carrier attention x2)."""

from torch import nn

from .carrier_attention import CarrierStage, GlobalStage
from .conv_stage import ConvBody
from .layers import downsample, stem


def make_body(config, stage, dim):
    """Stage body: convolutional at stages 0-1, carrier-token attention at stage 2 and at stage 3 (v1) or global
    attention at stage 3 (``stage4: "global"``, v2).  The v2 switches are described in config.py."""
    depth = config["depths"][stage]
    if stage < 2:
        return ConvBody(dim, depth)
    heads = config["heads"][stage - 2]
    common = dict(mlp_ratio=config["mlp_ratio"], pooled_reliability=config["reliability"] == "pooled",
                  drop_path=config["drop_path"], layer_scale=config["layer_scale"])
    if stage == 3 and config["stage4"] == "global":
        return GlobalStage(dim, depth, heads, **common)
    return CarrierStage(dim, depth, heads, config["window"][stage - 2], config["carriers"],
                        mask_padding=config["mask_padding"], **common)


class Stream(nn.Module):
    """Encoder of one input; ``stages[i](x)`` runs stage i (downsampling first)."""

    def __init__(self, in_channels, dims, config, body=make_body):
        super().__init__()
        self.stages = nn.ModuleList()
        for i, dim in enumerate(dims):
            entry = stem(in_channels, dim) if i == 0 else downsample(dims[i - 1], dim)
            self.stages.append(nn.Sequential(entry, body(config, i, dim)))

    def forward(self, x):
        feats = []
        for stage in self.stages:
            x = stage(x)
            feats.append(x)
        return feats
