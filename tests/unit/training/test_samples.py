"""TrainingSet: synthetic cloud cover is drawn from the asked range; a fixed coverage overrides it."""

import numpy as np
import pytest

from model.clouds import add_clouds
from model.training.samples import TeacherSet, TrainingSet, teacher_view

SPEC = {"optical": {"method": "percentile", "low": 2.0, "high": 98.0},
        "sar": {"method": "percentile", "low": 2.0, "high": 98.0}}


class _Clear:
    """Clear samples only (no cloud-free pair), like OMBRIA."""
    value_max = 255.0

    def __len__(self):
        return 40

    def __getitem__(self, i):
        rng = np.random.default_rng(i)
        return {"optical": rng.uniform(20, 120, (3, 64, 64)).astype(np.float32),
                "sar": rng.normal(size=(1, 64, 64)).astype(np.float32),
                "label": (rng.random((64, 64)) > 0.5).astype(np.uint8), "name": str(i)}


def _covers(data_set):
    return np.array([float(data_set[i]["cloud_mask"].mean()) for i in range(len(data_set))])


@pytest.mark.parametrize("low, high", [(0.05, 0.7), (0.6, 0.9)])
def test_cover_is_drawn_from_the_range(low, high):
    covers = _covers(TrainingSet(_Clear(), SPEC, cloud_probability=1.0, coverage_range=(low, high)))
    tolerance = 2 / 64 ** 2
    assert covers.min() >= low - tolerance and covers.max() <= high + tolerance, covers
    assert covers.max() - covers.min() > 0.5 * (high - low), covers     # spread over the range, not one value


def test_fixed_coverage_wins_and_default_range_keeps_old_samples():
    fixed = _covers(TrainingSet(_Clear(), SPEC, cloud_probability=1.0, coverage=0.75, coverage_range=(0.1, 0.2)))
    assert np.allclose(fixed, 0.75, atol=2 / 64 ** 2)
    # the default range is the one add_clouds draws from on its own: same random stream, same clouds as before
    a = TrainingSet(_Clear(), SPEC, cloud_probability=1.0)[3]
    rng = np.random.default_rng([0, 0, 3])
    rng.random()                                                  # the cloud_probability draw
    _, mask = add_clouds(_Clear()[3]["optical"], rng, None, value_max=255.0)
    assert np.array_equal(a["cloud_mask"].numpy() > 0.5, mask)
    wider = TrainingSet(_Clear(), SPEC, cloud_probability=1.0, coverage_range=(0.05, 0.95))[3]
    assert not np.array_equal(a["cloud_mask"].numpy(), wider["cloud_mask"].numpy())


def test_the_teacher_sees_the_clear_image_without_clouds():
    data = TrainingSet(_Clear(), SPEC, cloud_probability=1.0)
    item = data[2]
    assert item["cloud_mask"].any() and not item["optical"].equal(item["teacher_optical"])
    seen = TeacherSet(data)[2]
    assert seen["optical"].equal(item["teacher_optical"]) and not seen["cloud_mask"].any()
    assert seen["label"].equal(item["label"]) and seen["sar"].equal(item["sar"])
    batch = {k: v[None] for k, v in item.items()}
    assert teacher_view(batch)["optical"].equal(batch["teacher_optical"])
