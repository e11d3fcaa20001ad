import pytest
import torch

from model.network import ARCHITECTURES, build_model, preset_config

torch.set_num_threads(1)


@pytest.mark.parametrize("architecture", ARCHITECTURES)
@pytest.mark.parametrize("size", [(250, 333), (31, 70)])
def test_output_shapes_for_odd_sizes(architecture, size):
    torch.manual_seed(0)
    model = build_model(architecture, preset_config("tiny", 4, 2, 3)).eval()
    h, w = size
    optical, sar = torch.randn(2, 4, h, w), torch.randn(2, 2, h, w)
    with torch.no_grad():
        out = model(optical, sar, return_features=True)
    assert out["logits"].shape == (2, 3, h, w)
    assert out["cloudfree"].shape == (2, 4, h, w)
    assert out["reliability"].shape == (2, 1, h, w)
    assert out["features"].shape[:2] == (2, model.config["decoder_dim"] if architecture != "dense_tristream"
                                         else model.config["dims"][0])
    assert out["features"].shape[2:] == (-(-h // 32) * 8, -(-w // 32) * 8)  # stride 4 of the padded input
    assert torch.all(out["reliability"] > 0) and torch.all(out["reliability"] <= 1)
    for value in (out["logits"], out["cloudfree"]):
        assert torch.isfinite(value).all()
    assert "features" not in model(optical, sar)


def test_edc_reliability_stages_and_teacher_without_cloud_removal():
    model = build_model("edc", preset_config("tiny", 3, 1, 2, cloud_removal=False)).eval()
    optical, sar = torch.randn(1, 3, 64, 96), torch.randn(1, 1, 64, 96)
    with torch.no_grad():
        out = model(optical, sar, return_features=True)
    assert torch.equal(out["cloudfree"], optical)  # teacher: no cloud-removal head, cloud-free input passes through
    assert [r.shape[-2:] for r in out["reliability_stages"]] == [(16, 24), (8, 12), (4, 6), (2, 3)]
    assert not any("cloud_removal" in name for name, _ in model.named_parameters())


def test_unknown_architecture_and_preset():
    with pytest.raises(ValueError, match="unknown architecture"):
        build_model("unet", preset_config("tiny", 3, 1, 2))
    with pytest.raises(ValueError, match="unknown preset"):
        preset_config("huge", 3, 1, 2)
