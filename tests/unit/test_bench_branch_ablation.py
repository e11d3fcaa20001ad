"""bench/branch_ablation.py: switching transformer branches off is the same network with those layers' weights at
zero, and leaves the network as it was afterwards; the decoder's deep inputs are zeroed; the baseline score is the
one ``model.evaluate`` recorded in the default weights."""

import copy

import pytest

from bench import branch_ablation
from bench.common import DEFAULT_WEIGHTS

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def model_and_inputs():
    from model.network import build_model, preset_config
    torch.manual_seed(0)
    model = build_model("edc", dict(preset_config("tiny", 3, 1, 2), edc_version=3)).eval()
    return model, torch.randn(1, 3, 64, 64), torch.randn(1, 1, 64, 64)


def _logits(model, optical, sar):
    with torch.no_grad():
        return model(optical, sar)["logits"]


@pytest.mark.parametrize("group", sorted(branch_ablation.GROUPS))
def test_branches_off_equals_their_layers_at_zero_and_is_undone(group, model_and_inputs):
    model, optical, sar = model_and_inputs
    before = _logits(model, optical, sar)
    layers = branch_ablation.linear_layers(model, branch_ablation.GROUPS[group])
    assert layers
    with branch_ablation.zeroed_outputs(layers) as n:
        off = _logits(model, optical, sar)
    assert n == len(layers)
    reference = copy.deepcopy(model)
    for layer in branch_ablation.linear_layers(reference, branch_ablation.GROUPS[group]):
        torch.nn.init.zeros_(layer.weight)
        torch.nn.init.zeros_(layer.bias)
    assert torch.allclose(off, _logits(reference, optical, sar), atol=1e-6)
    assert not torch.allclose(off, before, atol=1e-4)  # random blocks do change the output
    assert torch.equal(_logits(model, optical, sar), before)  # hooks removed


def test_groups_split_the_encoder_blocks(model_and_inputs):
    model, _, _ = model_and_inputs
    count = {g: len(branch_ablation.linear_layers(model, p)) for g, p in branch_ablation.GROUPS.items()}
    assert count["all"] == count["streams"] + count["fusion"] > 0


def test_decoder_sees_zeros_for_the_chosen_stages(model_and_inputs):
    model, optical, sar = model_and_inputs
    seen = []
    with branch_ablation.zeroed_decoder_inputs(model, (2, 3)):
        handle = model.decoder.register_forward_pre_hook(lambda _m, args: seen.extend(args[0]))
        _logits(model, optical, sar)
        handle.remove()
    assert [bool((f == 0).all()) for f in seen] == [False, False, True, True]
    assert len(model.decoder._forward_pre_hooks) == 0


@pytest.mark.real_data
def test_baseline_is_the_recorded_test_score(shared_data):
    from model.weights import open_weights
    opened = open_weights(DEFAULT_WEIGHTS)
    data = shared_data / "ombria"
    label, coverage, indices = branch_ablation.settings(data)[0]
    score = branch_ablation.flood_iou(opened.build_model(), opened.metadata, data, coverage, indices)
    assert score == pytest.approx(opened.metadata["metrics"]["ombria_test"][label]["flood_water_iou"], abs=1e-4)
