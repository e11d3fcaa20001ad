import pytest
import torch

from model.network import ARCHITECTURES, build_model, preset_config

torch.set_num_threads(1)


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_every_parameter_receives_a_gradient(architecture):
    torch.manual_seed(0)
    model = build_model(architecture, preset_config("tiny", 3, 2, 4)).train()
    out = model(torch.randn(2, 3, 70, 90), torch.randn(2, 2, 70, 90), return_features=True)
    loss = out["logits"].square().mean() + out["cloudfree"].square().mean() + out["features"].square().mean()
    if out["reliability"].requires_grad:
        loss = loss + out["reliability"].mean()
    loss.backward()
    missing = [name for name, p in model.named_parameters() if p.grad is None or not torch.any(p.grad != 0)]
    assert not missing, f"parameters without gradient: {missing}"
