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


@pytest.mark.slow
def test_edc_fits_a_small_synthetic_task():
    """A few optimisation steps on a SAR-defined mask: segmentation and cloud-removal losses both fall."""
    torch.manual_seed(0)
    model = build_model("edc", preset_config("tiny", 3, 1, 2)).train()
    sar = torch.randn(2, 1, 64, 64)
    target = (torch.nn.functional.avg_pool2d(sar, 9, 1, 4) > 0).long()[:, 0]
    clear = torch.rand(2, 3, 64, 64)
    cloudy = clear.clone()
    cloudy[:, :, 16:48, 16:48] = 1.0
    optimiser = torch.optim.Adam(model.parameters(), 3e-3)

    def losses():
        out = model(cloudy, sar)
        return (torch.nn.functional.cross_entropy(out["logits"], target),
                (out["cloudfree"] - clear).abs().mean())

    first = [v.item() for v in losses()]
    for _ in range(40):
        seg, rec = losses()
        optimiser.zero_grad()
        (seg + rec).backward()
        optimiser.step()
    last = [v.item() for v in losses()]
    assert last[0] < 0.6 * first[0] and last[1] < 0.8 * first[1], (first, last)
