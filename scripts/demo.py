"""`make demo`: run edc:segment through qgis_process on the bundled sample scene and report what came out.

Uses the trained default weights resources/edc_default.onnx when they exist; otherwise writes a small randomly
initialised EDC to .build/ and says plainly that the map is UNTRAINED.
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

from osgeo import gdal

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "resources" / "sample"
DEFAULT_WEIGHTS = ROOT / "resources" / "edc_default.onnx"
gdal.UseExceptions()
sys.path.insert(0, str(ROOT))  # the QGIS-free core, as package `model`


def ensure_sample():
    if not (SAMPLE / "optical.tif").is_file() or not (SAMPLE / "sar.tif").is_file():
        print("[demo] generating the sample scene (python -m model.sample_scene)")
        subprocess.run([sys.executable, "-m", "model.sample_scene"], cwd=ROOT, check=True)


def band_names(path, prefix):
    """Band descriptions of ``path`` (e.g. B11, B8, B3), so the untrained weights expect the sample's bands."""
    dataset = gdal.Open(str(path))
    return [dataset.GetRasterBand(i + 1).GetDescription() or f"{prefix}_{i + 1}" for i in range(dataset.RasterCount)]


def truth_classes():
    """(name, colour) pairs from the sample truth raster, so untrained weights share its class table."""
    truth = SAMPLE / "truth.tif"
    if truth.is_file():
        dataset = gdal.Open(str(truth))  # keep it referenced while its band is used
        band = dataset.GetRasterBand(1)
        band.GetMetadata()  # GDAL 3.6 GTiff reads the .aux.xml (category names) lazily
        names, table = band.GetCategoryNames() or [], band.GetColorTable()
        classes = [(n, "#%02x%02x%02x" % table.GetColorEntry(i)[:3] if table else "#808080")
                   for i, n in enumerate(names) if n and i != 255]
        if len(classes) >= 2:
            return classes
    return [("background", "#d9d9d9"), ("water", "#1f78b4")]


def untrained_weights(build):
    """A tiny randomly initialised EDC (seed 0) matching the sample's band counts and classes."""
    import torch

    from model.network import build_model, preset_config
    from model.weights import make_metadata, save_weights

    torch.manual_seed(0)  # rewritten on every run (cheap), so it always matches the current network code
    optical, sar, classes = band_names(SAMPLE / "optical.tif", "optical"), band_names(SAMPLE / "sar.tif", "sar"), \
        truth_classes()
    config = preset_config("tiny", len(optical), len(sar), len(classes))
    meta = make_metadata("edc", config, classes, optical, sar, tile_size=128, overlap=16, trained=False,
                         training={"note": "random initialisation for make demo; not trained"})
    return save_weights(build_model("edc", config), meta, build / "edc_untrained.pt")


def agreement(output, truth):
    """Pixel accuracy and water IoU of ``output`` against ``truth`` over pixels valid in both."""
    pred = gdal.Open(str(output)).ReadAsArray()
    ref_dataset = gdal.Open(str(truth))
    ref_band = ref_dataset.GetRasterBand(1)
    ref_band.GetMetadata()
    ref = ref_band.ReadAsArray()
    if pred.shape != ref.shape:
        return None
    valid = (pred != 255) & (ref != 255)
    names = [n.lower() for n in (ref_band.GetCategoryNames() or [])]
    water = next((i for i, n in enumerate(names) if "water" in n), None)
    accuracy = float((pred[valid] == ref[valid]).mean()) if valid.any() else float("nan")
    iou = None
    if water is not None:
        p, r = (pred == water) & valid, (ref == water) & valid
        union = (p | r).sum()
        iou = float((p & r).sum() / union) if union else float("nan")
    return accuracy, iou


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--qgis-process", default=str(ROOT / ".build" / "qgis_process"))
    parser.add_argument("--build", default=str(ROOT / ".build"))
    args = parser.parse_args()
    build = Path(args.build)
    out_dir = build / "demo"
    out_dir.mkdir(parents=True, exist_ok=True)
    ensure_sample()

    from model.weights import open_weights
    weights = DEFAULT_WEIGHTS if DEFAULT_WEIGHTS.is_file() else untrained_weights(build)
    trained = open_weights(weights).metadata.get("trained", False)
    output = out_dir / "land_cover.tif"
    for stale in out_dir.glob("land_cover.*"):
        stale.unlink()
    command = [args.qgis_process, "--json", "run", "edc:segment", "--",
               f"OPTICAL={SAMPLE / 'optical.tif'}", f"SAR={SAMPLE / 'sar.tif'}", f"WEIGHTS={weights}",
               f"OUTPUT={output}", f"CONFIDENCE={out_dir / 'land_cover_confidence.tif'}"]
    print("[demo] " + " ".join(command))
    run = subprocess.run(command, capture_output=True, text=True)
    if run.returncode != 0:
        print(run.stdout[-4000:], run.stderr[-4000:], sep="\n")
        sys.exit(f"[demo] edc:segment failed (exit code {run.returncode})")
    answer = json.loads(run.stdout)
    results = answer["results"]
    for warning in answer.get("log", {}).get("warning", []):
        print(f"[edc:segment] warning: {warning}")

    print()
    if not trained:
        print("!! UNTRAINED WEIGHTS: resources/edc_default.onnx does not exist yet, so this demo used a randomly")
        print(f"!! initialised EDC ({weights}). The map below shows the pipeline working, NOT a meaningful result.")
    print(f"Weights:       {weights} ({'trained' if trained else 'UNTRAINED'})")
    print(f"Device:        {results['DEVICE_USED']}")
    print(f"Styled output: {results['OUTPUT']} (+ {Path(results['OUTPUT']).with_suffix('.qml').name}, colour table "
          "and class names inside the GeoTIFF; open it in QGIS)")
    print(f"Confidence:    {results.get('CONFIDENCE')}")
    print("Per-class areas (on the ellipsoid):")
    for stats in json.loads(results["CLASS_STATS"]):
        area = f"{stats['area_ha']:>12.2f} ha" if stats["area_ha"] is not None else "     (no CRS: no area)"
        print(f"  {stats['value']:>3} {stats['name']:<20} {stats['pixels']:>10} px {area}")
    truth = SAMPLE / "truth.tif"
    if truth.is_file():
        scores = agreement(results["OUTPUT"], truth)
        if scores is None:
            print("Agreement with truth.tif: grids differ, not computed")
        else:
            acc, iou = scores
            iou_text = "n/a (no water class)" if iou is None else f"{iou:.3f}"
            print(f"Agreement with resources/sample/truth.tif: pixel accuracy {acc:.3f}, water IoU {iou_text}"
                  + ("" if trained else "  (untrained weights: expect chance level)"))


if __name__ == "__main__":
    main()
