"""Raw-unit plausibility: weights run through ``segment()`` on the real raw-unit pairs of ``../shared/data``.

Users run the default weights on Sentinel-2 reflectance and Sentinel-1 dB, not on OMBRIA's 8-bit patches. There are
no labels for these scenes, so this checks plausibility, not accuracy: open water is dark in VV (below about -18 dB)
and has low NIR. For each scene and weights file:

- the share of pixels mapped as flood water;
- the median VV backscatter (dB) of the pixels mapped as water and of the others;
- the share of "dark and low-NIR" pixels (VV < -18 dB and NIR in the scene's lowest 20 %) mapped as water;
- with two or more weights files, the agreement of each with the first.

Scenes: SEN12MS-CR's two triplets (L1C with real clouds; bands B11, B8, B3 of 13; VV of VV, VH) and SSL4EO-S12's
location 0000200 (L2A B11, B8, B3 stacked on B8's grid; VV in dB in EPSG:4326, warped on the fly).

    .venv/bin/python -m bench.raw_units WEIGHTS [WEIGHTS ...] [--data ../shared/data]
"""

import argparse
import tempfile
from pathlib import Path

import numpy as np

from bench.common import ROOT

SEN12MS = ("ROIs1970_fall_139_p839", "ROIs2017_winter_112_p797")
SEN12MS_OPTICAL_BANDS = [12, 8, 3]  # B11, B8, B3 in SEN12MS's order B1..B8, B8A, B9..B12
DARK_VV_DB = -18.0
LOW_NIR_QUANTILE = 0.2


def scenes(data, work):
    """(name, optical, sar, optical bands, NIR band of the optical raster) of every raw-unit scene present."""
    found = []
    for name in SEN12MS:
        optical, sar = data / "sen12ms_cr" / "s2_cloudy" / f"{name}.tif", data / "sen12ms_cr" / "s1" / f"{name}.tif"
        if optical.exists() and sar.exists():
            found.append((f"SEN12MS-CR {name} (L1C, real clouds)", optical, sar, SEN12MS_OPTICAL_BANDS, 8))
    s2, s1 = sorted((data / "ssl4eo_s12" / "s2a" / "0000200").glob("*")), sorted(
        (data / "ssl4eo_s12" / "s1" / "0000200").glob("*/VV.tif"))
    if s2 and s1:
        from osgeo import gdal
        optical = work / "ssl4eo_optical.vrt"  # B11 (20 m), B8, B3 on the finest (10 m) grid
        gdal.BuildVRT(str(optical), [str(s2[0] / f"{b}.tif") for b in ("B11", "B8", "B3")], separate=True,
                      resolution="highest").FlushCache()
        found.append(("SSL4EO-S12 0000200 (L2A, VV dB in EPSG:4326)", optical, s1[0], None, 2))
    return found


def read_on(path, reference, band=1):
    """Band ``band`` of raster ``path`` resampled (nearest) onto the grid of raster ``reference``, as float64."""
    from osgeo import gdal
    ref = gdal.Open(str(reference))
    warped = gdal.Warp("", str(path), format="MEM", width=ref.RasterXSize, height=ref.RasterYSize,
                       outputBounds=_bounds(ref), dstSRS=ref.GetProjection(), resampleAlg="near")
    return warped.GetRasterBand(band).ReadAsArray().astype(np.float64)


def _bounds(ds):
    x0, dx, _, y0, _, dy = ds.GetGeoTransform()
    return (x0, y0 + dy * ds.RasterYSize, x0 + dx * ds.RasterXSize, y0)


def plausibility(classes, vv, nir, water):
    """(water share, median VV of water, median VV of the rest, share of dark low-NIR pixels mapped as water)."""
    valid = (classes != 255) & np.isfinite(vv)
    is_water = valid & (classes == water)
    dark = valid & (vv < DARK_VV_DB) & (nir <= np.quantile(nir[valid], LOW_NIR_QUANTILE))

    def median(mask):
        return float(np.median(vv[mask])) if mask.any() else float("nan")
    return (is_water.sum() / max(valid.sum(), 1), median(is_water), median(valid & ~is_water),
            (is_water & dark).sum() / dark.sum() if dark.any() else float("nan"))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("weights", nargs="+")
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    args = p.parse_args(argv)
    from osgeo import gdal

    from model.inference import SegmentOptions, segment
    from model.weights import open_weights
    gdal.UseExceptions()
    work = Path(tempfile.mkdtemp(prefix="edc-raw-units-"))
    found = scenes(Path(args.data), work)
    if not found:
        raise SystemExit(f"No raw-unit scene found under {args.data}.")
    for name, optical, sar, bands, nir_band in found:
        print(f"## {name}")
        maps = []
        for i, weights in enumerate(args.weights):
            meta = open_weights(weights).metadata
            water = [c["name"] for c in meta["classes"]].index("flood water")
            out = work / f"{Path(optical).stem}_{i}.tif"
            segment(SegmentOptions(str(optical), str(sar), str(weights), str(out), optical_bands=bands),
                    log=lambda m: None)
            ds = gdal.Open(str(out))  # kept while its band is read: a band outliving its dataset crashes GDAL
            classes = ds.GetRasterBand(1).ReadAsArray()
            vv, nir = read_on(sar, out), read_on(optical, out, nir_band)
            share, vv_water, vv_rest, dark = plausibility(classes, vv, nir, water)
            agree = "" if not maps else f", agreement with the first {np.mean(classes == maps[0]):.1%}"
            maps.append(classes)
            print(f"{weights}: water {share:.1%}, VV median water {vv_water:.1f} / other {vv_rest:.1f} dB, "
                  f"dark+low NIR mapped as water {dark:.1%}{agree}")


if __name__ == "__main__":
    main()
