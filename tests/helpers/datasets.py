"""The dataset folders of the test suite, written with :func:`helpers.rasters.write_raster`: the generic layout,
WHU-OPT-SAR and OMBRIA, small enough to train on in seconds.  The real samples come from the ``shared_data``
fixture (tests/conftest.py)."""

import json
from pathlib import Path

import numpy as np

from .rasters import read_raster, write_raster

FAST = ["--preset", "tiny", "--batch-size", "2", "--crop", "32", "--threads", "1", "--no-progress-bar",
        "--val-fraction", "0", "--seed", "5"]   # training options for a run of a few seconds on generic_folder()


def stripe_label(size):
    """(size, size) uint8 labels: class 0 on the left half, 1 on the right."""
    label = np.zeros((size, size), np.uint8)
    label[:, size // 2:] = 1
    return label


def generic_folder(root, n=4, size=32, classes=("land", "water"), n_optical=3, n_sar=2, sar_pixel=20.0,
                   label=None, label_value=None, seed=0):
    """A generic-layout dataset (classes.json, optical/, sar/, label/) of ``n`` samples: optical ``size`` x ``size``
    UInt16 at 10 m (darker where the label is 1), SAR Float32 at ``sar_pixel`` m over the same extent.  ``label``:
    the labels of every sample (default :func:`stripe_label`); ``label_value`` is written at (5, 5) of the last
    sample's labels.  Returns ``root``."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    (root / "classes.json").write_text(json.dumps([{"name": c, "color": "#336699"} for c in classes]))
    for folder in ("optical", "sar", "label"):
        (root / folder).mkdir(exist_ok=True)
    base = stripe_label(size) if label is None else np.asarray(label, np.uint8)
    size = base.shape[0]
    sar_size = max(1, int(round(size * 10.0 / sar_pixel)))
    for i in range(n):
        optical = rng.integers(100, 3000, (n_optical, size, size)).astype(np.uint16)
        optical[:, base == 1] //= 5
        write_raster(root / "optical" / f"s{i}.tif", optical)
        write_raster(root / "sar" / f"s{i}.tif", rng.normal(-10, 2, (n_sar, sar_size, sar_size)).astype(np.float32),
                     pixel=sar_pixel)
        labels = base.copy()
        if label_value is not None and i == n - 1:
            labels[5, 5] = label_value
        write_raster(root / "label" / f"s{i}.tif", labels)
    return root


def whu_folder(root, labels, pixel=10.0, sar_pixel=10.0, seed=0):
    """A WHU-OPT-SAR layout (optical/, sar/, lbl/): one sample per array of label codes (0, 10, ..., 70) in
    ``labels``; 4-band Byte optical at ``pixel`` m, 1-band SAR at ``sar_pixel`` m.  Returns ``root``."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    for i, codes in enumerate(labels):
        size = codes.shape[0]
        sar_size = max(1, int(round(size * pixel / sar_pixel)))
        write_raster(root / "optical" / f"a{i}.tif", rng.integers(0, 255, (4, size, size)).astype(np.uint8),
                     pixel=pixel)
        write_raster(root / "sar" / f"a{i}.tif", rng.normal(size=(1, sar_size, sar_size)).astype(np.float32),
                     pixel=sar_pixel)
        write_raster(root / "lbl" / f"a{i}.tif", np.asarray(codes).astype(np.uint8), pixel=pixel)
    return root


def ombria_folder(root, mask_values=(0, 255), n=2, split="train"):
    """An OMBRIA layout of ``n`` 16 x 16 PNG triples; sample i's flood mask is ``mask_values[i % len]``."""
    from PIL import Image
    root = Path(root)
    for i in range(1, n + 1):
        for sensor, kind, array in (("S1", "AFTER", np.zeros((16, 16), np.uint8)),
                                    ("S2", "AFTER", np.zeros((16, 16, 3), np.uint8)),
                                    ("S1", "MASK", np.full((16, 16), mask_values[i % len(mask_values)], np.uint8))):
            name = f"{sensor}_{'after' if kind == 'AFTER' else 'mask'}_{i:04d}.png"
            folder = root / f"Ombria{sensor}" / split / kind
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(array).save(folder / name)
    return root


M3M_CLASSES = ("Forest", "Rangeland", "Agriculture", "Urban", "Barren", "Water")


def real_generic_folder(root, shared_data, n=2):
    """A generic-layout dataset of ``n`` copies (s0, s1, ...) of the real M3M-CR training quartet in ``shared_data``:
    optical = the cloudy PlanetScope image (4 bands, 300 x 300 at 3 m), sar = the Sentinel-1 image (VV, VH in dB,
    90 x 90 at 10 m), label = its WorldCover codes grouped into the six classes (Byte, 255 = no class, 10 m), and a
    classes.json of those six classes.  Alter the files with :func:`rewrite_raster` and GDAL.  Returns ``root``."""
    import shutil

    from model.datasets.m3m_cr import group_worldcover
    root = Path(root)
    quartet = Path(shared_data) / "m3m_cr" / "train"
    optical = next(quartet.glob("planet_cloudy_*/*/*.tif"))
    sar = next(quartet.glob("S1_*/*/*.tif"))
    landcover = next(quartet.glob("landcover_*/*/*.tif"))
    (root / "classes.json").parent.mkdir(parents=True, exist_ok=True)
    (root / "classes.json").write_text(json.dumps([{"name": c, "color": "#336699"} for c in M3M_CLASSES]))
    for i in range(n):
        for folder, src in (("optical", optical), ("sar", sar)):
            (root / folder).mkdir(exist_ok=True)
            shutil.copy(src, root / folder / f"s{i}.tif")
        (root / "label").mkdir(exist_ok=True)
        rewrite_raster(landcover, group_worldcover(read_raster(landcover)[0]).astype(np.uint8),
                       root / "label" / f"s{i}.tif")
    return root


def rewrite_raster(path, array, out=None, gdal_type=None, nodata=None):
    """Write ``array`` (H, W) or (C, H, W) with the georeferencing of the raster ``path`` to ``out`` (default:
    ``path`` itself); ``gdal_type``: a GDAL type code to write the values as; ``nodata``: declared on every band."""
    from osgeo import gdal
    src = gdal.Open(str(path))
    geotransform, wkt = src.GetGeoTransform(), src.GetProjection()
    src = None
    array = np.asarray(array)
    out = Path(out or path)
    out.unlink(missing_ok=True)
    write_raster(out, array, geotransform=geotransform, epsg=None, nodata=nodata, dtype=gdal_type)
    ds = gdal.Open(str(out), gdal.GA_Update)
    ds.SetProjection(wkt)
    ds = None
    return out
