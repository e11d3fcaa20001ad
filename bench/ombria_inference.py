"""Flood-water IoU of ``segment()`` (the inference path users run, not the training data loader) on the OMBRIA test
split: every test pair of PNGs (Sentinel-2 B11/B8/B3 and Sentinel-1 VV, 256 x 256, no georeferencing) is mapped
with the given weights and scored against its flood mask, pixels that segment() leaves nodata counted apart.

    .venv/bin/python -m bench.ombria_inference [--weights resources/edc_default.onnx] [--data ../shared/data/ombria]
"""

import argparse
import tempfile
from pathlib import Path

import numpy as np

from bench.common import DEFAULT_ONNX, ROOT


def pairs(data, split="test"):
    """(optical PNG, SAR PNG, mask PNG) of every test patch."""
    s2 = sorted((Path(data) / "OmbriaS2" / split / "AFTER").glob("S2_after_*.png"))
    for optical in s2:
        number = optical.stem.rsplit("_", 1)[1]
        yield (optical, Path(data) / "OmbriaS1" / split / "AFTER" / f"S1_after_{number}.png",
               Path(data) / "OmbriaS1" / split / "MASK" / f"S1_mask_{number}.png")


def score(weights, data, segment_pair):
    """{"iou": flood-water IoU over mapped pixels, "iou_nodata_as_land": the same with nodata pixels counted as not
    water, "nodata": share of pixels left nodata, "warned": patches with a warning}; ``segment_pair(optical, sar,
    weights, output, log)`` runs the mapping."""
    from PIL import Image
    tp = fp = fn = missed = nodata = total = 0
    warned = []
    with tempfile.TemporaryDirectory() as work:
        for optical, sar, mask in pairs(data):
            messages = []
            out = Path(work) / "lc.tif"
            segment_pair(optical, sar, weights, out, messages.append)
            from osgeo import gdal
            lc = gdal.Open(str(out)).ReadAsArray()
            truth = np.array(Image.open(mask))
            truth = (truth[..., 0] if truth.ndim == 3 else truth) == 255
            mapped = lc != 255
            tp += int((mapped & (lc == 1) & truth).sum())
            fp += int((mapped & (lc == 1) & ~truth).sum())
            fn += int((mapped & (lc == 0) & truth).sum())
            nodata += int((~mapped).sum())
            missed += int((~mapped & truth).sum())
            total += lc.size
            if any(m.startswith("WARNING") for m in messages):
                warned.append(optical.stem.rsplit("_", 1)[1])
    return {"iou": tp / max(tp + fp + fn, 1), "iou_nodata_as_land": tp / max(tp + fp + fn + missed, 1),
            "nodata": nodata / total, "warned": warned}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default=str(DEFAULT_ONNX))
    parser.add_argument("--data", default=str(ROOT / ".." / "shared" / "data" / "ombria"))
    args = parser.parse_args(argv)
    from model.inference import SegmentOptions, segment

    def run(optical, sar, weights, output, log):
        segment(SegmentOptions(optical, sar, weights, output, device="cpu"), log=log)
    result = score(args.weights, args.data, run)
    print(f"OMBRIA test split through segment(): flood-water IoU {result['iou']:.4f} over mapped pixels, "
          f"{result['iou_nodata_as_land']:.4f} with nodata counted as not water; {100 * result['nodata']:.2f} % of "
          f"pixels nodata; warnings on patches {', '.join(result['warned']) or '-'}")


if __name__ == "__main__":
    main()
