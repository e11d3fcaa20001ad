"""The pictures in README.md (docs/images/), made from real runs: ``.venv/bin/python scripts/screenshots.py``.

- ``qgis_map.png``, ``qgis_dialog.png``: the real ``qgis`` desktop under Xvfb, with the plugin installed into a
  throw-away profile (``make install EDC_DEPS=venv``), running the desktop test's QGIS script
  (tests/integration/desktop/qgis_desktop_script.py): the sample scene's inputs and the styled land cover with its
  legend in the layer tree, and the edc:segment dialog with the two inputs chosen;
- ``outputs.png``: one ``segment()`` run on the bundled sample with the bundled weights and every optional output,
  drawn with Matplotlib: the optical image (with its clouds), the cloud-free estimate, the SAR image, the land cover,
  the confidence and the reliability (in steps of 0.05 and 0.1, so that the palette PNG shows them as they are).

Needs xvfb-run, the qgis desktop and the venv (``make setup``).  PNGs are palette-quantised to stay small.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "resources" / "sample"
WEIGHTS = ROOT / "resources" / "edc_default.onnx"
DESKTOP_SCRIPT = ROOT / "tests" / "integration" / "desktop" / "qgis_desktop_script.py"
CLEAN = ("QGIS_CUSTOM_CONFIG_PATH", "QGIS_PLUGINPATH", "PYTHONPATH", "QT_QPA_PLATFORM", "DISPLAY", "VIRTUAL_ENV")


def small_png(source, target, colours=256):
    """``source`` saved as a palette PNG at ``target`` (a few hundred KB at most for a screen grab)."""
    from PIL import Image
    Image.open(source).convert("RGB").quantize(colours, method=Image.Quantize.MEDIANCUT).save(target, optimize=True)
    return os.path.getsize(target)


def desktop_grabs(out):
    """qgis_map.png and qgis_dialog.png from the real desktop; their sizes."""
    sys.path.insert(0, str(ROOT / "scripts"))
    import desktop_install

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        profile = tmp / "home" / ".local/share/QGIS/QGIS3/profiles/default"
        desktop_install.install(profile, "venv", copy=False)
        (tmp / "runtime").mkdir(mode=0o700)
        (tmp / "out").mkdir()
        env = {key: value for key, value in os.environ.items() if key not in CLEAN}
        env.update(HOME=str(tmp / "home"), XDG_RUNTIME_DIR=str(tmp / "runtime"),
                   EDC_DESKTOP_RESULT=str(tmp / "result.json"), EDC_DESKTOP_OUTPUT=str(tmp / "out" / "land_cover.tif"),
                   EDC_DESKTOP_SAMPLE=str(SAMPLE), EDC_DESKTOP_WEIGHTS=str(WEIGHTS),
                   EDC_DESKTOP_SCREENSHOT=str(tmp / "map.png"), EDC_DESKTOP_DIALOG_SCREENSHOT=str(tmp / "dialog.png"))
        subprocess.run(["xvfb-run", "-a", "-s", "-screen 0 1280x900x24", "qgis", "--nologo", "--noversioncheck",
                        "--code", str(DESKTOP_SCRIPT)], env=env, capture_output=True, timeout=300, check=False)
        state = json.loads((tmp / "result.json").read_text())
        if not state["ok"]:
            raise SystemExit(f"[screenshots] QGIS failed:\n{state.get('error')}")
        sizes = {name: small_png(tmp / grab, out / name) for grab, name in (("map.png", "qgis_map.png"),
                                                                              ("dialog.png", "qgis_dialog.png"))}
        desktop_install.uninstall(profile)
    return sizes


def read(path, bands=None):
    from osgeo import gdal
    dataset = gdal.Open(str(path))
    bands = bands or range(1, dataset.RasterCount + 1)
    return np.stack([dataset.GetRasterBand(b).ReadAsArray().astype(np.float32) for b in bands])


def on_optical_grid(path, optical):
    """``path`` warped onto the optical raster's grid (for drawing the SAR beside it)."""
    from osgeo import gdal
    reference = gdal.Open(str(optical))
    x0, dx, _, y0, _, dy = reference.GetGeoTransform()
    bounds = (x0, y0 + dy * reference.RasterYSize, x0 + dx * reference.RasterXSize, y0)
    warped = gdal.Warp("", str(path), format="MEM", dstSRS=reference.GetProjection(), outputBounds=bounds,
                       width=reference.RasterXSize, height=reference.RasterYSize, resampleAlg="bilinear",
                       dstNodata=np.nan)
    return warped.GetRasterBand(1).ReadAsArray()


def stretch(image, nodata=0):
    """Bands (C, H, W) scaled to 0..1 between their 2nd and 98th percentiles, as (H, W, C)."""
    valid = np.all(image != nodata, axis=0)
    out = np.zeros(image.shape[1:] + (image.shape[0],), np.float32)
    for i, band in enumerate(image):
        low, high = np.percentile(band[valid], (2, 98))
        out[..., i] = np.clip((band - low) / max(high - low, 1e-6), 0, 1)
    out[~valid] = 1.0
    return out


def outputs_figure(out):
    """outputs.png from one segment() run with every optional output; its size."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    sys.path.insert(0, str(ROOT))
    from model.inference import SegmentOptions, segment

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        names = {kind: str(tmp / f"{kind}.tif") for kind in ("land_cover", "confidence", "cloudfree", "reliability")}
        segment(SegmentOptions(str(SAMPLE / "optical.tif"), str(SAMPLE / "sar.tif"), str(WEIGHTS),
                               names["land_cover"], device="cpu", confidence=names["confidence"],
                               cloudfree=names["cloudfree"], reliability=names["reliability"]), log=None)
        optical = read(SAMPLE / "optical.tif")
        cloudfree = read(names["cloudfree"])
        land_cover = read(names["land_cover"])[0]
        confidence, reliability = read(names["confidence"])[0], read(names["reliability"])[0]
    sar = on_optical_grid(SAMPLE / "sar.tif", SAMPLE / "optical.tif")
    nodata = land_cover == 255
    for layer in (confidence, reliability):
        layer[nodata] = np.nan
    cloudfree[:, nodata] = 0
    figure, axes = plt.subplots(2, 3, figsize=(12, 8.4), dpi=90)
    panels = [
        ("Optical (B11, B8, B3), with clouds", stretch(optical), {}),
        ("Cloud-free estimate (CLOUDFREE)", stretch(cloudfree), {}),
        ("SAR VV (dB)", sar, {"cmap": plt.get_cmap("gray", 32), "vmin": np.nanpercentile(sar, 2),
                              "vmax": np.nanpercentile(sar, 98)}),
        ("Land cover (OUTPUT)", np.ma.masked_where(nodata, land_cover),
         {"cmap": ListedColormap(["#d9d9d9", "#1f78b4"]), "vmin": 0, "vmax": 1, "interpolation": "nearest"}),
        ("Confidence (CONFIDENCE)", confidence, {"cmap": plt.get_cmap("magma", 10), "vmin": 0.5, "vmax": 1}),
        ("Reliability of the optical image (RELIABILITY)", reliability,
         {"cmap": plt.get_cmap("viridis", 10), "vmin": 0, "vmax": 1}),
    ]
    for axis, (title, image, style) in zip(axes.flat, panels):
        shown = axis.imshow(image, **style)
        axis.set_title(title, fontsize=10)
        axis.set_xticks([])
        axis.set_yticks([])
        if title.startswith(("Confidence", "Reliability")):
            figure.colorbar(shown, ax=axis, fraction=0.046, pad=0.02)
    figure.tight_layout()
    raw = out / "outputs.raw.png"
    figure.savefig(raw)
    size = small_png(raw, out / "outputs.png")
    raw.unlink()
    return {"outputs.png": size}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    parser.add_argument("--skip-desktop", action="store_true", help="only outputs.png (no QGIS desktop run)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    sizes = outputs_figure(args.out)
    if not args.skip_desktop:
        sizes.update(desktop_grabs(args.out))
    for name, size in sizes.items():
        print(f"[screenshots] {args.out / name}: {size / 1000:.0f} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
