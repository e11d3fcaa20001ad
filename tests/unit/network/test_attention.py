"""Attention cost (carrier tokens vs dense) and the reliability bias of the fusion stream's carrier tokens."""

import torch

from model.network import AttentionCounter, build_model, preset_config
from model.network.carrier_attention import CarrierStage

torch.set_num_threads(1)


def attention_elements(architecture, size):
    model = build_model(architecture, preset_config("tiny", 3, 1, 2)).eval()
    with torch.no_grad(), AttentionCounter(model) as counter:
        model(torch.randn(1, 3, size, size), torch.randn(1, 1, size, size))
    return counter.elements


def test_carrier_attention_cost_is_near_linear_and_dense_is_quadratic():
    edc_small, edc_large = attention_elements("edc", 128), attention_elements("edc", 256)
    dense_small, dense_large = attention_elements("dense_tristream", 128), attention_elements("dense_tristream", 256)
    assert edc_small > 0 and dense_small > 0
    # 4x the pixels: window attention grows 4x; the global carrier term (quadratic in carriers) stays small
    assert 3.9 < edc_large / edc_small < 4.6
    assert dense_large / dense_small > 15.0
    assert edc_large < dense_large / 10


def test_counter_matches_the_analytic_window_cost():
    stage = CarrierStage(dim=8, depth=1, heads=2, window=4, carriers=1).eval()
    with torch.no_grad(), AttentionCounter(stage) as counter:
        stage(torch.randn(1, 8, 16, 16))
    windows, carriers = 16, 16
    assert counter.elements == 2 * (carriers * carriers + windows * (16 + 1) ** 2)


def carrier_mass(stage, x, reliability, region):
    """Attention mass that carriers of ``region`` receive: global carrier attention and window attention."""
    blocks = stage.blocks[0]
    blocks.carrier_block.attn.keep_attention = blocks.window_block.attn.keep_attention = True
    with torch.no_grad():
        stage(x, reliability=reliability)
    global_attn = blocks.carrier_block.attn.last_attention  # (1, heads, carriers, carriers)
    window_attn = blocks.window_block.attn.last_attention  # (windows, heads, 1 + 16, 1 + 16); key 0 = carrier
    return global_attn[..., region].sum().item(), window_attn[region, :, :, 0].sum().item()


def test_lower_reliability_lowers_the_attention_its_carriers_receive():
    torch.manual_seed(0)
    stage = CarrierStage(dim=8, depth=1, heads=2, window=4, carriers=1).eval()
    x = torch.randn(1, 8, 16, 16)
    region = [0, 1, 4, 5]  # the 4 windows (and so carriers) covering the top-left 8 x 8 pixels
    reliable = torch.full((1, 1, 16, 16), 0.9)
    cloudy = reliable.clone()
    cloudy[..., :8, :8] = 0.05
    global_before, local_before = carrier_mass(stage, x, reliable, region)
    global_after, local_after = carrier_mass(stage, x, cloudy, region)
    assert global_after < 0.5 * global_before
    assert local_after < 0.5 * local_before


def test_edc_fusion_stream_uses_the_dchf_reliability():
    """Inside EDC, replacing the fusion stream's reliability by a lower one over a region lowers its carriers' mass."""
    torch.manual_seed(0)
    model = build_model("edc", preset_config("tiny", 3, 1, 2)).eval()
    body = model.dchf[2].body
    optical, sar = torch.randn(1, 3, 128, 128), torch.randn(1, 1, 128, 128)  # stage 3: 8 x 8 tokens, 2 x 2 windows
    seen = {}

    def override(_module, args, kwargs):
        seen["r"] = kwargs["reliability"]
        if "scale" in seen:
            kwargs = dict(kwargs, reliability=kwargs["reliability"] * seen["scale"])
        return args, kwargs

    handle = body.register_forward_pre_hook(override, with_kwargs=True)
    attn = body.blocks[0].carrier_block.attn
    attn.keep_attention = True
    with torch.no_grad():
        out = model(optical, sar, return_features=True)
        assert torch.equal(seen["r"], out["reliability_stages"][2])
        before = attn.last_attention[..., 0].sum().item()
        scale = torch.ones(1, 1, 8, 8)
        scale[..., :4, :4] = 0.01
        seen["scale"] = scale
        model(optical, sar)
        after = attn.last_attention[..., 0].sum().item()
    handle.remove()
    assert after < 0.5 * before
