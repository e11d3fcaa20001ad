"""Preset widths: the SAR stream width ratio and the configs it gives."""

import pytest
import torch

from model.network import build_model, preset_config
from model.network.config import PRESETS, sar_dims_for


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_half_width_is_the_presets_own_sar_stream_and_full_width_the_optical_one(name):
    preset = PRESETS[name]
    assert sar_dims_for(preset, 0.5) == preset["sar_dims"]
    assert sar_dims_for(preset, 1.0) == preset["dims"]


def test_attention_stages_keep_a_whole_number_of_channels_per_head():
    preset = PRESETS["small"]
    widths = sar_dims_for(preset, 0.3)
    assert widths[0] % 4 == 0 and widths[1] % 4 == 0
    assert widths[2] % preset["heads"][0] == 0 and widths[3] % preset["heads"][1] == 0
    assert widths == sorted(widths) and widths[3] < preset["sar_dims"][3]


@pytest.mark.parametrize("ratio", [0, 0.01, -1, 2.5])
def test_ratio_out_of_range(ratio):
    with pytest.raises(ValueError, match="outside"):
        sar_dims_for(PRESETS["tiny"], ratio)


@pytest.mark.parametrize("ratio", [0.3, 1.0])
def test_networks_with_other_sar_widths_build_and_run(ratio):
    config = preset_config("tiny", 3, 1, 2)
    config["sar_dims"] = sar_dims_for(config, ratio)
    model = build_model("edc", config).eval()
    half = build_model("edc", preset_config("tiny", 3, 1, 2))
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert (count(model) > count(half)) == (ratio > 0.5)
    with torch.no_grad():
        out = model(torch.randn(1, 3, 70, 90), torch.randn(1, 1, 70, 90))
    assert out["logits"].shape == (1, 2, 70, 90)
