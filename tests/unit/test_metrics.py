"""Metrics by hand, and a network scored on cloudy and clear pixels apart."""

import numpy as np
import pytest
import torch

from model.metrics import confusion, evaluate_model, focus, scores


def test_confusion_and_scores_by_hand():
    label = np.array([0, 0, 1, 1, 2, 255])
    pred = np.array([0, 1, 1, 1, 0, 2])
    conf = confusion(pred, label, 3)
    assert conf.tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 0]]
    s = scores(conf, ["a", "b", "c"])
    # IoU a = 1 / (2 + 2 - 1) = 1/3, b = 2 / (3 + 2 - 2) = 2/3, c = 0 / (1 + 0 - 0) = 0
    assert s["iou"] == pytest.approx({"a": 1 / 3, "b": 2 / 3, "c": 0.0})
    assert s["miou"] == pytest.approx(1 / 3)
    assert s["oa"] == pytest.approx(3 / 5) and s["pixels"] == 5
    assert focus(s) == s["miou"] and focus(s, "b") == pytest.approx(2 / 3)


def test_absent_class_is_left_out_of_the_mean():
    s = scores(confusion(np.array([0, 0]), np.array([0, 0]), 2))
    assert s["iou"]["1"] is None and s["miou"] == 1.0
    assert np.isnan(focus(s, "1"))


class _Threshold(torch.nn.Module):
    """Predicts class 1 where the first optical band is > 0.5 (a fixed rule, to check the bookkeeping)."""

    def forward(self, optical, sar):
        x = optical[:, :1]
        return {"logits": torch.cat([0.5 - x, x - 0.5], 1)}


def test_cloudy_and_clear_pixels_are_scored_apart():
    optical = torch.zeros(2, 1, 4, 4)
    optical[:, 0, :, :2] = 1.0
    label = torch.zeros(2, 4, 4, dtype=torch.long)
    label[:, :, :2] = 1
    label[:, :, 3] = 1                      # wrong predictions only in column 3
    cloud = torch.zeros(2, 4, 4)
    cloud[:, :, 3] = 1                      # ... which is the cloudy column
    data = [{"optical": optical[i], "sar": optical[i], "label": label[i], "cloud_mask": cloud[i]} for i in range(2)]
    model = _Threshold().train()
    result = evaluate_model(model, data, 2, ["land", "water"])
    assert result["clear"]["miou"] == 1.0 and result["clear"]["pixels"] == 24
    assert result["cloudy"]["oa"] == 0.0 and result["cloudy"]["pixels"] == 8
    assert result["all"]["oa"] == pytest.approx(24 / 32)
    assert result["all"]["iou"]["water"] == pytest.approx(16 / 24)
    assert model.training                   # put back in training mode (validation happens mid-training)
