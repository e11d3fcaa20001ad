"""Flood-water IoU of ``segment()`` (the inference path users run, not the training data loader) on the OMBRIA test
split: every test pair of PNGs (Sentinel-2 B11/B8/B3 and Sentinel-1 VV, 256 x 256, no georeferencing) is mapped
with the given weights and scored against its flood mask, pixels that segment() leaves nodata counted apart.

    .venv/bin/python -m bench.ombria_inference [--weights resources/edc_default.onnx] [--data ../shared/data/ombria]
        [--tile-size 512] [--mosaic 3] [--cpu-float32]

``--mosaic N`` maps N x N test patches put side by side (row-major in file order; the patches left over are
dropped), so that tiles larger than one 256 px patch are tried as they would be on a whole scene.
"""

import argparse
import tempfile
from pathlib import Path

import numpy as np

from bench.common import DEFAULT_ONNX, ROOT


def pairs(data, split="test", mosaic=1, folder=None):
    """(optical, SAR, mask) of every test patch (PNGs), or of ``mosaic`` x ``mosaic`` mosaics of them written into
    ``folder`` (GeoTIFFs)."""
    patches = list(_patches(data, split))
    if mosaic == 1:
        yield from patches
        return
    group = mosaic * mosaic
    for k in range(len(patches) // group):
        yield _mosaic(patches[k * group:(k + 1) * group], mosaic, Path(folder) / f"mosaic_{k}")


def _mosaic(patches, n, stem):
    """Write the optical, SAR and mask of ``patches`` tiled ``n`` x ``n``; return their paths."""
    from osgeo import gdal
    from PIL import Image
    paths = []
    for part, suffix in enumerate(("optical", "sar", "mask")):
        images = [np.array(Image.open(p[part])) for p in patches]
        images = [i[None] if i.ndim == 2 else np.moveaxis(i, -1, 0) for i in images]
        if suffix == "mask":
            images = [i[:1] for i in images]
        rows = [np.concatenate(images[r * n:(r + 1) * n], axis=2) for r in range(n)]
        array = np.concatenate(rows, axis=1)
        path = f"{stem}_{suffix}.tif"
        ds = gdal.GetDriverByName("GTiff").Create(path, array.shape[2], array.shape[1], array.shape[0], gdal.GDT_Byte)
        for b in range(array.shape[0]):
            ds.GetRasterBand(b + 1).WriteArray(array[b])
        ds = None
        paths.append(Path(path))
    return tuple(paths)


def _patches(data, split):
    s2 = sorted((Path(data) / "OmbriaS2" / split / "AFTER").glob("S2_after_*.png"))
    for optical in s2:
        number = optical.stem.rsplit("_", 1)[1]
        yield (optical, Path(data) / "OmbriaS1" / split / "AFTER" / f"S1_after_{number}.png",
               Path(data) / "OmbriaS1" / split / "MASK" / f"S1_mask_{number}.png")


def score(weights, data, segment_pair, mosaic=1):
    """{"iou": flood-water IoU over mapped pixels, "iou_nodata_as_land": the same with nodata pixels counted as not
    water, "nodata": share of pixels left nodata, "warned": patches with a warning}; ``segment_pair(optical, sar,
    weights, output, log)`` runs the mapping."""
    from PIL import Image
    tp = fp = fn = missed = nodata = total = 0
    warned = []
    with tempfile.TemporaryDirectory() as work:
        for optical, sar, mask in pairs(data, mosaic=mosaic, folder=work):
            messages = []
            out = Path(work) / "lc.tif"
            segment_pair(optical, sar, weights, out, messages.append)
            from osgeo import gdal
            lc = gdal.Open(str(out)).ReadAsArray()
            truth = np.array(Image.open(mask)) if mask.suffix == ".png" else gdal.Open(str(mask)).ReadAsArray()
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
    parser.add_argument("--tile-size", type=int, default=None, help="tile size (default: the weights')")
    parser.add_argument("--overlap", type=int, default=None, help="tile overlap (default: the weights')")
    parser.add_argument("--mosaic", type=int, default=1, help="map N x N patches side by side (default 1)")
    parser.add_argument("--cpu-float32", dest="cpu_int8", action="store_false",
                        help="float32 matrix products (default: int8 on the CPU, as edc:segment)")
    args = parser.parse_args(argv)
    from model.inference import SegmentOptions, segment

    def run(optical, sar, weights, output, log):
        segment(SegmentOptions(optical, sar, weights, output, device="cpu", tile_size=args.tile_size,
                               overlap=args.overlap, cpu_int8=args.cpu_int8), log=log)
    result = score(args.weights, args.data, run, args.mosaic)
    print(f"weights {Path(args.weights).name}, tile size {args.tile_size or 'default'}, overlap "
          f"{args.overlap if args.overlap is not None else 'default'}, mosaic {args.mosaic} x {args.mosaic}, "
          f"{'int8' if args.cpu_int8 else 'float32'} matrix products")
    print(f"OMBRIA test split through segment(): flood-water IoU {result['iou']:.4f} over mapped pixels, "
          f"{result['iou_nodata_as_land']:.4f} with nodata counted as not water; {100 * result['nodata']:.2f} % of "
          f"pixels nodata; warnings on patches {', '.join(result['warned']) or '-'}")


if __name__ == "__main__":
    main()
