"""Running ``segment()`` from tests, and stand-in predictors that replace the network where a test is about the
pipeline around it (they are real :class:`Predictor` subclasses: batching, stacking and errors stay the engine's)."""

import time

import numpy as np

from model.inference import SegmentOptions, segment
from model.inference.runtime import Predictor


def run_segment(optical, sar, weights, output, progress=None, is_cancelled=None, log=None, **options):
    """``segment(SegmentOptions(optical, sar, weights, output, **options))`` with the callbacks given."""
    return segment(SegmentOptions(optical, sar, weights, output, **options), progress=progress,
                   is_cancelled=is_cancelled, log=log)


def use_predictor(monkeypatch, predictor_class):
    """Make ``segment()`` build ``predictor_class()`` instead of the weights' network."""
    import model.inference.run
    monkeypatch.setattr(model.inference.run, "load_predictor", lambda weights, **kw: predictor_class())


class ThresholdNet(Predictor):
    """Class 1 where the first optical band exceeds the first SAR band; no torch."""

    device = "threshold test network"

    def __init__(self):
        super().__init__(log=None)

    def _run(self, optical, sar):
        one = (optical[:, :1] > sar[:, :1]).astype(np.float32)
        return {"probabilities": np.concatenate([1 - one, one], 1), "cloudfree": optical,
                "reliability": np.ones_like(one)}


class BrokenNet(ThresholdNet):
    """Fails on every batch like a crashed GPU kernel."""

    def _run(self, optical, sar):
        raise RuntimeError("CUDA error: an illegal memory access was encountered")


class SlowNet(ThresholdNet):
    """Half / half probabilities, 50 ms per batch: time for a test to kill the process mid-run."""

    def _run(self, optical, sar):
        time.sleep(0.05)
        return {"probabilities": np.ones((len(optical), 2) + optical.shape[2:], np.float32) / 2,
                "cloudfree": optical, "reliability": optical[:, :1]}


class LocalNet(Predictor):
    """A small receptive field (two 5x5 convolutions): unlike EDC, whose carrier tokens see the whole input, its
    output away from tile borders does not depend on the tile, so tiled and whole-scene inference must agree."""

    device = "local test network"

    def __init__(self):
        import torch
        super().__init__(log=None)
        torch.manual_seed(3)
        self.torch = torch
        self.net = torch.nn.Sequential(torch.nn.Conv2d(4, 8, 5, padding=2, bias=False), torch.nn.Tanh(),
                                       torch.nn.Conv2d(8, 2, 5, padding=2, bias=False)).eval()
        with torch.no_grad():  # zero-sum (high-pass) first filters: both classes occur whatever the input level
            first = self.net[0].weight
            first -= first.mean(dim=(1, 2, 3), keepdim=True)

    def _run(self, optical, sar):
        torch = self.torch
        with torch.no_grad():
            logits = self.net(torch.from_numpy(np.concatenate([optical, sar], 1)))
            return {"probabilities": logits.softmax(1).numpy(), "cloudfree": optical,
                    "reliability": 1 / (1 + np.exp(-sar))}


def fill_the_disk(monkeypatch, writer_class):
    """Make ``writer_class.write`` (a GeoTiffWriter, of ``model`` or of the plugin's ``edc.model``) fail from the
    second block row on with the error GDAL gives when the disk is full."""
    original = writer_class.write

    def full_disk(self, y, array):
        if y > 0:
            raise RuntimeError("TIFFAppendToStrip:Write error at scanline 64: No space left on device")
        return original(self, y, array)
    monkeypatch.setattr(writer_class, "write", full_disk)
