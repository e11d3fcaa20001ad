"""Training losses: the reliability term (our addition) and how EDCLoss switches it."""

import pytest
import torch

from model.losses import EDCLoss, reliability_loss
from model.network import build_model, preset_config


def _mask(h, w):
    mask = torch.zeros(2, h, w)
    mask[:, :, : w // 2] = 1.0  # left half cloudy
    return mask


@pytest.mark.parametrize("size", [(64, 64), (70, 45)])
def test_reliability_loss_rewards_low_r_under_clouds(size):
    h, w = size
    mask = _mask(h, w)
    ph, pw = -(-h // 32) * 32, -(-w // 32) * 32  # the network's padded frame
    padded = torch.nn.functional.pad(mask[:, None], (0, pw - w, 0, ph - h), mode="replicate")
    right = [1.0 - torch.nn.functional.avg_pool2d(padded, s) for s in (4, 8, 16, 32)]
    wrong = [1.0 - r for r in right]
    flat = [torch.full_like(r, 0.5) for r in right]
    good, bad, middle = (float(reliability_loss(m, mask)) for m in (right, wrong, flat))
    assert good < middle < bad
    assert bad > 3.0


def test_reliability_loss_has_gradient():
    r = torch.full((2, 1, 8, 8), 0.5, requires_grad=True)
    reliability_loss([r], _mask(32, 32)).backward()
    # cloudy (left) cells want r down (positive gradient), clear cells want it up
    assert (r.grad[..., :4] > 0).all() and (r.grad[..., 4:] < 0).all()


def test_edc_loss_switch_and_models_without_stages():
    torch.manual_seed(0)
    batch = {"label": torch.zeros(2, 32, 32, dtype=torch.long), "cloud_mask": _mask(32, 32)}
    net = build_model("edc", preset_config("tiny", 3, 1, 2))
    out = net(torch.randn(2, 3, 32, 32), torch.randn(2, 1, 32, 32), return_features=True)
    assert "reliability" not in EDCLoss(cloud=0, distill=0)(out, batch)[1]
    total, parts = EDCLoss(cloud=0, distill=0, reliability=0.5)(out, batch)
    assert float(total) == pytest.approx(parts["ce"] + 0.5 * parts["reliability"], rel=1e-5)
    baseline = build_model("early_concat", preset_config("tiny", 3, 1, 2))
    out = baseline(torch.randn(2, 3, 32, 32), torch.randn(2, 1, 32, 32), return_features=True)
    assert "reliability" not in EDCLoss(cloud=0, distill=0, reliability=0.5)(out, batch)[1]


def test_reliability_term_teaches_edc_to_distrust_clouds():
    """A few steps on the term alone make the EDC reliability output lower under the (bright) clouds than on clear
    ground; without it the network has no reason to."""
    torch.set_num_threads(1)
    torch.manual_seed(0)
    net = build_model("edc", preset_config("tiny", 3, 1, 2))
    mask = _mask(64, 64)
    optical = torch.rand(2, 3, 64, 64) * 0.5
    optical[:, :, :, :32] = 0.95 + 0.05 * torch.rand(2, 3, 64, 32)
    sar = torch.rand(2, 1, 64, 64)
    loss_fn = EDCLoss(ce=0, cloud=0, distill=0, reliability=1.0)
    batch = {"label": torch.zeros(2, 64, 64, dtype=torch.long), "cloud_mask": mask}
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    first = None
    for _ in range(20):
        loss, _ = loss_fn(net(optical, sar, return_features=True), batch)
        first = float(loss) if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():  # train mode: BatchNorm uses batch statistics, as during the steps
        rel = net(optical, sar)["reliability"][:, 0]
    assert float(loss) < first
    assert float(rel[:, :, 8:24].mean()) < float(rel[:, :, 40:56].mean()) - 0.3
