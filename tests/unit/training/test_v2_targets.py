"""EDC v2 training targets (issue 17): soft reliability targets from the synthetic clouds' transmission, and the
real clouds of training patches left out of the reliability, cloud-removal and distillation terms."""

import numpy as np
import torch

from model.clouds import add_clouds
from model.losses import EDCLoss, cloud_removal_loss, distillation_loss, reliability_loss
from model.training.samples import TrainingSet

SPEC = {"optical": {"method": "percentile", "low": 2.0, "high": 98.0},
        "sar": {"method": "percentile", "low": 2.0, "high": 98.0}}


class _RealCloud:
    """Clear 8-bit samples (no cloud-free pair, like OMBRIA) with a real bright grey cloud in the top-left corner."""
    value_max = 255.0

    def __len__(self):
        return 6

    def __getitem__(self, i):
        rng = np.random.default_rng(i)
        optical = rng.uniform(20, 120, (3, 64, 64)).astype(np.float32)
        optical[:, :16, :16] = 230.0
        return {"optical": optical, "sar": rng.normal(size=(1, 64, 64)).astype(np.float32),
                "label": (rng.random((64, 64)) > 0.5).astype(np.uint8), "name": str(i)}


def test_transmission_is_soft_includes_thin_edges_and_keeps_the_draws():
    image = np.random.default_rng(5).uniform(20, 120, (3, 96, 96)).astype(np.float32)
    cloudy, mask = add_clouds(image, np.random.default_rng(1), 0.4, value_max=255.0, thin_probability=0.0)
    cloudy2, mask2, passed = add_clouds(image, np.random.default_rng(1), 0.4, value_max=255.0, thin_probability=0.0,
                                        transmission=True)
    assert np.array_equal(cloudy, cloudy2) and np.array_equal(mask, mask2)
    assert passed.min() >= 0.0 and passed.max() <= 1.0
    assert passed[mask].mean() < 0.3                           # thick cloud lets little through
    assert (passed[~mask] < 0.9).mean() > 0.02                  # edges and shadows outside the binary mask
    assert set(np.unique(1.0 - mask.astype(np.float32))) != set(np.unique(passed))


def test_soft_reliability_target_and_known_pixels_of_a_sample():
    hard = TrainingSet(_RealCloud(), SPEC, cloud_probability=1.0)[1]
    soft = TrainingSet(_RealCloud(), SPEC, cloud_probability=1.0, soft_reliability=True,
                       ignore_real_clouds=True)[1]
    assert torch.equal(hard["reliability_target"], 1.0 - hard["cloud_mask"])      # v1: the binary mask
    assert torch.equal(hard["known"], torch.ones_like(hard["known"]))
    assert torch.equal(soft["cloud_mask"], hard["cloud_mask"])                     # same clouds
    target = soft["reliability_target"]
    assert not torch.equal(target, hard["reliability_target"])
    assert ((target > 0.02) & (target < 0.98)).float().mean() > 0.02               # soft values
    known = soft["known"]
    assert 0 < float((known == 0).float().mean()) < 0.2                            # the real cloud (cropped/flipped)
    assert float((known == 0).float().sum()) == 16 * 16


def _batch():
    torch.manual_seed(0)
    known = torch.ones(2, 32, 32)
    known[:, :8, :8] = 0.0
    return {"cloud_mask": (torch.rand(2, 32, 32) > 0.5).float(), "known": known,
            "reliability_target": torch.rand(2, 32, 32), "label": torch.zeros(2, 32, 32, dtype=torch.long)}


def _changed_in_unknown(x, scale=4):
    y = x.clone()
    y[..., : 8 // scale, : 8 // scale] = 1.0 - y[..., : 8 // scale, : 8 // scale] * 0.5
    return y


def test_unknown_pixels_do_not_count_in_the_three_terms():
    b = _batch()
    pred, target = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    base = cloud_removal_loss(pred, target, b["cloud_mask"], 4.0, b["known"])
    assert torch.allclose(base, cloud_removal_loss(_changed_in_unknown(pred, 1), target, b["cloud_mask"], 4.0,
                                                   b["known"]))
    assert not torch.allclose(base, cloud_removal_loss(_changed_in_unknown(pred, 1), target, b["cloud_mask"]))

    r = [torch.rand(2, 1, 32 // s, 32 // s) * 0.9 + 0.05 for s in (4, 8)]
    base = reliability_loss(r, b["cloud_mask"], b["reliability_target"], b["known"])
    moved = [_changed_in_unknown(r[0], 4), r[1]]
    assert torch.allclose(base, reliability_loss(moved, b["cloud_mask"], b["reliability_target"], b["known"]))
    assert not torch.allclose(base, reliability_loss(moved, b["cloud_mask"], b["reliability_target"]))

    s, t = torch.randn(2, 8, 8, 8), torch.randn(2, 8, 8, 8)
    base = distillation_loss(s, t, torch.zeros(2, 32, 32), b["known"])
    assert torch.allclose(base, distillation_loss(_changed_in_unknown(s, 4), t, torch.zeros(2, 32, 32), b["known"]))
    assert not torch.allclose(base, distillation_loss(_changed_in_unknown(s, 4), t, torch.zeros(2, 32, 32)))


def test_reliability_loss_pulls_towards_the_soft_target():
    target = torch.full((1, 32, 32), 0.3)
    r = torch.full((1, 1, 8, 8), 0.5, requires_grad=True)
    reliability_loss([r], torch.zeros(1, 32, 32), target).backward()
    assert (r.grad > 0).all()            # r goes down towards 0.3, though the binary mask says "clear"
    at_target = reliability_loss([torch.full((1, 1, 8, 8), 0.3)], torch.zeros(1, 32, 32), target)
    off_target = reliability_loss([torch.full((1, 1, 8, 8), 0.9)], torch.zeros(1, 32, 32), target)
    assert at_target < off_target


def test_distillation_on_cloudy_pixels_is_a_switch():
    mask = torch.zeros(1, 8, 8)
    mask[:, :4] = 1.0
    s, t = torch.randn(1, 4, 8, 8), torch.randn(1, 4, 8, 8)
    moved = s.clone()
    moved[..., :4, :] += 3.0
    assert torch.allclose(distillation_loss(s, t, mask), distillation_loss(moved, t, mask))
    assert not torch.allclose(distillation_loss(s, t, mask, cloudy_weight=1.0),
                              distillation_loss(moved, t, mask, cloudy_weight=1.0))
    assert EDCLoss(distill_cloudy=0.5).distill_cloudy == 0.5
