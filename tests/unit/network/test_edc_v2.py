"""EDC v2 blocks (issue 17): padded carriers masked, global last stage, r-weighted carriers with a per-head scale,
r as a gate input, the U-Net decoder, and version handling of the config."""

import pytest
import torch

from model.network import build_model, preset_config
from model.network.carrier_attention import CarrierStage, GlobalStage, to_windows
from model.network.context_fusion import ContextFusion
from model.network.dchf import DCHF
from model.network.decoder import MultiScaleDecoder, UNetHead
from model.network.layers import ConvBN

torch.set_num_threads(1)


def _padded_carriers():
    """Indices (in the stage's carrier order) of the carriers of a 12 x 12 map, window 8, 2 x 2 carriers per window,
    that cover only padding: the grid is 16 x 16, carriers cover 4 x 4 cells, 9 of 16 cells hold map pixels."""
    valid = torch.zeros(1, 1, 4, 4)
    valid[..., :3, :3] = 1.0
    order = to_windows(valid, 2).reshape(-1)
    return [i for i, v in enumerate(order.tolist()) if v == 0.0]


def _carrier_mass(stage, reliability=None):
    torch.manual_seed(0)
    x = torch.randn(1, 8, 12, 12)
    block = stage.blocks[0]
    block.carrier_block.attn.keep_attention = block.window_block.attn.keep_attention = True
    with torch.no_grad():
        stage(x, reliability=reliability)
    global_attn = block.carrier_block.attn.last_attention           # (1, heads, 16, 16)
    window_attn = block.window_block.attn.last_attention           # (4 windows, heads, 4 + 64, 4 + 64)
    padded = _padded_carriers()                                      # window w holds carriers 4w..4w+3
    local_mass = sum(window_attn[i // 4, :, :, i % 4].sum().item() for i in padded)
    return global_attn[..., padded].sum().item(), local_mass


@pytest.mark.parametrize("reliability", [None, "map"])
def test_carriers_over_padding_only_get_no_attention_when_masked(reliability):
    assert len(_padded_carriers()) == 7
    r = torch.full((1, 1, 12, 12), 0.9) if reliability else None
    torch.manual_seed(0)
    masked = CarrierStage(dim=8, depth=1, heads=2, window=8, carriers=2, mask_padding=True,
                          pooled_reliability=bool(reliability)).eval()
    global_mass, local_mass = _carrier_mass(masked, r)
    assert global_mass < 1e-6 and local_mass < 1e-6
    torch.manual_seed(0)
    v1 = CarrierStage(dim=8, depth=1, heads=2, window=8, carriers=2).eval()
    global_v1, _ = _carrier_mass(v1)      # v1 optical/SAR streams: padded carriers take part
    assert global_v1 > 0.1


def test_pooled_reliability_uses_a_learnt_per_head_scale_and_weights_the_carriers():
    torch.manual_seed(0)
    stage = CarrierStage(dim=8, depth=1, heads=2, window=4, carriers=1, pooled_reliability=True).eval()
    assert stage.reliability_scale.shape == (2,) and float(stage.reliability_scale.detach().max()) <= 0.2
    x = torch.randn(1, 8, 8, 8)
    reliable = torch.full((1, 1, 8, 8), 0.9)
    cloudy = reliable.clone()
    cloudy[..., :4, :4] = 1e-3
    attn = stage.blocks[0].carrier_block.attn
    attn.keep_attention = True

    def mass(r):
        with torch.no_grad():
            stage(x, reliability=r)
        return attn.last_attention[..., 0].sum().item()  # carrier 0 = the top-left window

    small = mass(reliable) - mass(cloudy)
    with torch.no_grad():
        stage.reliability_scale.fill_(1.0)
    large = mass(reliable) - mass(cloudy)
    assert 0 < small < large   # a larger learnt scale removes cloudy carriers more
    # r-weighted pooling: a carrier is the mean of its reliable pixels, not of all
    feats = torch.zeros(1, 8, 8, 8)
    feats[..., 0, 0] = 1.0
    r = torch.full((1, 1, 8, 8), 1e-3)
    r[..., 0, 0] = 1.0
    valid = torch.ones(1, 1, 8, 8)
    stage.carrier_init = torch.nn.Identity()
    carriers, _ = stage._carriers(feats, valid, r, 4)
    assert carriers[0, 0, 0, 0] > 0.9


def test_global_stage_reliability_bias_and_gradient():
    torch.manual_seed(0)
    stage = GlobalStage(dim=8, depth=1, heads=2, pooled_reliability=True)
    x, r = torch.randn(2, 8, 4, 4), torch.rand(2, 1, 4, 4)
    stage(x, reliability=r).sum().backward()
    assert stage.reliability_scale.grad is not None and stage.reliability_scale.grad.abs().sum() > 0


class _Echo(torch.nn.Module):
    def forward(self, x, reliability=None):
        return x


def _local_mix(gate_input, sar_path=False):
    """(fusion conv input, whose first 4 channels are the local mix; optical projection; SAR projection; gate input;
    r) of a DCHF whose reliability is ~0 and whose gate, left to itself, would pick the optical side."""
    torch.manual_seed(0)
    dchf = DCHF(4, 4, 4, _Echo(), feedback=False, gate_input=gate_input, sar_path=sar_path).eval()
    with torch.no_grad():
        dchf.reliability[1].bias.fill_(-30.0)   # r ~ 0
        dchf.gate.weight.zero_()
        dchf.gate.bias.fill_(30.0)              # g ~ 1 whatever its inputs
    seen = {}
    dchf.proj_opt.register_forward_hook(lambda m, i, o: seen.__setitem__("po", o))
    dchf.proj_sar.register_forward_hook(lambda m, i, o: seen.__setitem__("ps", o))
    dchf.fuse.register_forward_hook(lambda m, i, o: seen.__setitem__("fuse_in", i[0]))
    dchf.gate.register_forward_hook(lambda m, i, o: seen.__setitem__("gate_in", i[0]))
    with torch.no_grad():
        _, r, _, _ = dchf(torch.randn(1, 4, 8, 8), torch.randn(1, 4, 8, 8))
    return seen["fuse_in"], seen["po"], seen["ps"], seen["gate_in"], r


def test_reliability_is_a_gate_input_in_v2_and_a_multiplier_in_v1():
    fuse_in, po, ps, gate_in, r = _local_mix(gate_input=True)
    assert gate_in.shape[1] == 9 and torch.equal(gate_in[:, -1:], r)
    assert torch.allclose(fuse_in[:, :4], po, atol=1e-5)   # the gate may keep optical although r ~ 0
    fuse_in, po, ps, gate_in, _ = _local_mix(gate_input=False)
    assert gate_in.shape[1] == 8
    assert torch.allclose(fuse_in[:, :4], ps, atol=1e-5)   # v1: m = r * g ~ 0 -> SAR only


def test_sar_path_passes_sar_to_the_fusion_where_the_gate_keeps_optical():
    """With ``sar_path`` the fusion conv sees the SAR projection next to the mix, though g ~ 1 keeps only optical."""
    fuse_in, po, ps, _, _ = _local_mix(gate_input=True, sar_path=True)
    assert fuse_in.shape[1] == 12
    assert torch.allclose(fuse_in[:, :4], po, atol=1e-5) and torch.equal(fuse_in[:, 4:8], ps)
    assert _local_mix(gate_input=True)[0].shape[1] == 8
    without = build_model("edc", preset_config("tiny", 3, 1, 2, version=2))
    assert not without.dchf[0].sar_path and without.dchf[0].fuse[0].in_channels == 2 * 16


def test_cloudseg_fusion_takes_mix_sar_and_state_with_dilated_context():
    """``fusion: "cloudseg"``: the fusion block gets the mix (optical here: g ~ 1), the SAR projection and the previous
    state, and a change of the mix reaches 4 pixels away (dilation 4), where the 1x1 fusion sees only its pixel."""
    torch.manual_seed(0)
    dchf = DCHF(4, 4, 4, _Echo(), feedback=False, gate_input=True, fusion="cloudseg").eval()
    with torch.no_grad():
        dchf.gate.weight.zero_()
        dchf.gate.bias.fill_(30.0)
    seen = {}
    dchf.proj_opt.register_forward_hook(lambda m, i, o: seen.__setitem__("po", o))
    dchf.proj_sar.register_forward_hook(lambda m, i, o: seen.__setitem__("ps", o))
    dchf.fuse.register_forward_hook(lambda m, i, o: seen.__setitem__("fuse_in", i))
    with torch.no_grad():
        dchf(torch.randn(1, 4, 8, 8), torch.randn(1, 4, 8, 8))
    mix, sar, prev = seen["fuse_in"]
    assert torch.allclose(mix, seen["po"], atol=1e-5) and torch.equal(sar, seen["ps"]) and torch.equal(prev, mix)
    for fusion, reaches in (("cloudseg", True), ("conv", False)):
        torch.manual_seed(0)
        block = DCHF(4, 4, 4, _Echo(), feedback=False, fusion=fusion).eval()
        if fusion == "cloudseg":  # squeeze-excitation fixed at 1, so only the dilated convolutions spread a change
            with torch.no_grad():
                block.fuse.se[3].weight.zero_()
                block.fuse.se[3].bias.fill_(30.0)
        mix, sar = torch.randn(1, 4, 16, 16), torch.randn(1, 4, 16, 16)
        moved = mix.clone()
        moved[..., 8, 8] += 5.0
        with torch.no_grad():
            change = (block._fuse(moved, sar, sar) - block._fuse(mix, sar, sar))[..., 8, 12].abs().max()
        assert (float(change) > 1e-4) == reaches, fusion


@pytest.mark.parametrize("feedback", [True, False])
def test_without_feedback_the_optical_stream_never_sees_sar(feedback):
    torch.manual_seed(0)
    model = build_model("edc", preset_config("tiny", 3, 1, 2, version=2, feedback=feedback)).eval()
    seen = []
    model.optical.stages[3].register_forward_hook(lambda m, i, o: seen.append(i[0]))
    optical = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        model(optical, torch.randn(1, 1, 64, 64))
        model(optical, torch.randn(1, 1, 64, 64))
    assert torch.equal(seen[0], seen[1]) != feedback
    assert (model.dchf[0].back_opt is None) != feedback


def test_v2_gate_starts_close_to_v1():
    dchf = DCHF(4, 4, 4, _Echo(), feedback=False, gate_input=True)
    assert float(dchf.gate.weight.detach()[0, -1]) > 0      # higher r, more optical, from the start


def test_v2_builds_its_blocks_and_v1_configs_build_the_v1_network():
    v2 = build_model("edc", preset_config("tiny", 3, 1, 2, version=2))
    assert isinstance(v2.decoder, UNetHead) and isinstance(v2.dchf[3].body, GlobalStage)
    assert isinstance(v2.dchf[2].body, CarrierStage) and v2.dchf[2].body.mask_padding
    assert v2.optical.stages[2][1].mask_padding and v2.dchf[0].gate_input
    old = preset_config("tiny", 3, 1, 2)   # what a v1 file's metadata holds: no version keys at all
    assert "edc_version" not in old
    v1 = build_model("edc", old)
    assert isinstance(v1.decoder, MultiScaleDecoder) and isinstance(v1.dchf[3].body, CarrierStage)
    assert not v1.dchf[2].body.mask_padding and not v1.dchf[0].gate_input
    assert v1.dchf[2].body.reliability_scale is None
    for model in (v1, v2):  # files without the fusion / feedback keys: one 1x1 fusion conv, feedback after stages 1-3
        assert isinstance(model.dchf[0].fuse, ConvBN) and model.dchf[2].back_opt is not None
        assert model.dchf[3].back_opt is None
    v3 = build_model("edc", preset_config("tiny", 3, 1, 2, version=3))   # v2 with the CloudSeg fusion
    assert all(isinstance(d.fuse, ContextFusion) for d in v3.dchf) and v3.config["edc_version"] == 3
    assert {k: v for k, v in v3.config.items() if k not in ("edc_version", "fusion")} == \
        {k: v for k, v in v2.config.items() if k not in ("edc_version", "fusion")}


def test_a_newer_network_version_fails_naming_it():
    config = preset_config("tiny", 3, 1, 2, version=2)
    config["edc_version"] = 4
    with pytest.raises(ValueError, match="version 4 is newer"):
        build_model("edc", config)
    with pytest.raises(ValueError, match="decoder"):
        build_model("edc", dict(config, edc_version=2, decoder="fpn"))
    with pytest.raises(ValueError, match="fusion"):
        build_model("edc", dict(config, edc_version=2, fusion="concat"))


def test_drop_path_and_layer_scale_switches():
    config = preset_config("tiny", 3, 1, 2, version=2, drop_path=0.5, layer_scale=1e-3)
    model = build_model("edc", config)
    block = model.dchf[3].body.blocks[0]
    assert block.gamma1 is not None and float(block.gamma1.detach().max()) == pytest.approx(1e-3)
    x = (torch.randn(2, 3, 64, 64), torch.randn(2, 1, 64, 64))
    model.eval()
    with torch.no_grad():
        a, b = model(*x)["logits"], model(*x)["logits"]
    assert torch.equal(a, b)                   # no stochastic depth at inference
    model.train()
    torch.manual_seed(0)
    tokens = torch.randn(8, 5, 8)
    drop = block.drop
    assert not torch.equal(drop(tokens), tokens)


def test_v2_small_keeps_the_parameter_budget():
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    dense_base = count(build_model("dense_tristream", preset_config("base", 3, 1, 2)))
    for options in ({}, {"fusion": "cloudseg"}):
        assert count(build_model("edc", preset_config("small", 3, 1, 2, version=2, **options))) <= 0.533 * dense_base


def test_conv_bn_is_still_the_building_block():  # the U-Net decoder is the dense baseline's, now shared
    from model.network.baselines.dense_tristream import CloudSegFusion, DenseTriStream
    # the fusion block is shared with EDC v3 too; the dense model's gate stays its first parameter, as in the
    # checkpoints (optimizer state) written before
    assert next(iter(dict(CloudSegFusion(8).named_parameters()))) == "gate.0.weight"
    dense = DenseTriStream(preset_config("tiny", 3, 1, 2))
    assert isinstance(dense.decoder.reduce[0], ConvBN)
    assert set(dense.decoder.state_dict()) == set(UNetHead([16, 32, 48, 64], 2).unet.state_dict())


def test_weights_of_a_newer_version_fail_naming_it_and_v2_weights_load(tmp_path):
    from model.errors import EDCWeightsError
    from model.weights import make_metadata, open_weights, save_weights
    config = preset_config("tiny", 3, 1, 2, version=2)
    model = build_model("edc", config)
    meta = make_metadata("edc", config, [("background", "#d9d9d9"), ("water", "#1f78b4")], ["B11", "B8", "B3"],
                         ["VV"])
    path = save_weights(model, meta, tmp_path / "v2.pt")
    assert open_weights(path).build_model().config["edc_version"] == 2
    blob = torch.load(path, weights_only=True)
    blob["metadata_json"] = blob["metadata_json"].replace('"edc_version": 2', '"edc_version": 4')
    assert '"edc_version": 4' in blob["metadata_json"]
    torch.save(blob, tmp_path / "v4.pt")
    with pytest.raises(EDCWeightsError, match="version 4 is newer than this plugin"):
        open_weights(tmp_path / "v4.pt").build_model()
