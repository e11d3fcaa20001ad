"""Shared pieces of the benchmarks: a machine/date header, weights, and large generated scenes.

Scenes are written block by block so that generating an 8192 x 8192 pair needs little memory.  The optical raster
is 3-band UInt16 in UTM at 10 m; the SAR raster is 1-band Float32 in geographic coordinates (EPSG:4326) at about
20 m, so that ``edc:segment`` has to reproject and resample it on the fly.
"""

import os
import platform
import subprocess
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from model.vocabulary import DEFAULT_WEIGHTS_FILE

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_WEIGHTS = ROOT / "resources" / "edc_default.pt"  # the trained network, for benchmarks that need PyTorch
DEFAULT_ONNX = ROOT / "resources" / DEFAULT_WEIGHTS_FILE  # the same network as edc:segment maps with by default
BLOCK = 512
TIME = "/usr/bin/time"  # GNU time (Debian package "time"), for the peak memory of a child process


def header(title, extra=""):
    import torch
    return (f"# {title}, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.machine()}, "
            f"{os.cpu_count()} cores, torch {torch.__version__} ({torch.get_num_threads()} threads){extra}")


def random_weights(path, preset="small", n_optical=3, n_sar=1):
    """An untrained EDC with the default weights' inputs and classes (speed does not depend on the values)."""
    import torch
    from model.network import build_model, preset_config
    from model.weights import make_metadata, save_weights
    torch.manual_seed(0)
    config = preset_config(preset, n_optical, n_sar, 2)
    meta = make_metadata("edc", config, [("background", "#d9d9d9"), ("flood water", "#1f78b4")],
                         ["B11", "B8", "B3"][:n_optical], ["VV"][:n_sar])
    save_weights(build_model("edc", config), meta, path)
    return Path(path)


def bench_weights(workdir, preset="small"):
    """The bundled default weights when they are the requested preset, else random weights of that preset."""
    if preset == "small" and DEFAULT_WEIGHTS.exists():
        return DEFAULT_WEIGHTS
    return random_weights(Path(workdir) / f"edc_{preset}_random.pt", preset)


def random_batches(n_tiles, tile, batch_size, n_optical=3, n_sar=1, seed=0):
    """``n_tiles`` random normalised tiles as (optical, SAR) float32 batches of at most ``batch_size``."""
    rng = np.random.default_rng(seed)
    sizes = [min(batch_size, n_tiles - i) for i in range(0, n_tiles, batch_size)]
    return [(rng.random((b, n_optical, tile, tile), dtype=np.float32),
             rng.random((b, n_sar, tile, tile), dtype=np.float32)) for b in sizes]


def _pattern(y0, x0, h, w, seed, bands):
    yy, xx = np.mgrid[y0:y0 + h, x0:x0 + w].astype(np.float32)
    rng = np.random.default_rng(seed + y0 * 7919 + x0)
    base = np.sin(xx / 97.0) * np.cos(yy / 131.0) + 0.5 * np.sin((xx + yy) / 53.0)
    return [base * (1 + 0.3 * b) + rng.normal(0, 0.2, (h, w)).astype(np.float32) for b in range(bands)]


def make_scene(folder, size, seed=0):
    """Write ``optical.tif`` and ``sar.tif`` of ``size`` x ``size`` optical pixels into ``folder``; return paths."""
    from osgeo import gdal, osr
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    opt_path, sar_path = folder / f"optical_{size}.tif", folder / f"sar_{size}.tif"
    if opt_path.exists() and sar_path.exists():
        return opt_path, sar_path
    options = ["TILED=YES", "COMPRESS=DEFLATE", "BIGTIFF=IF_SAFER"]
    utm = osr.SpatialReference()
    utm.ImportFromEPSG(32633)
    x0, y0, pixel = 500000.0, 5000000.0, 10.0
    opt = gdal.GetDriverByName("GTiff").Create(str(opt_path), size, size, 3, gdal.GDT_UInt16, options)
    opt.SetGeoTransform((x0, pixel, 0, y0, 0, -pixel))
    opt.SetProjection(utm.ExportToWkt())
    for by in range(0, size, BLOCK):
        for bx in range(0, size, BLOCK):
            h, w = min(BLOCK, size - by), min(BLOCK, size - bx)
            for b, arr in enumerate(_pattern(by, bx, h, w, seed, 3)):
                opt.GetRasterBand(b + 1).WriteArray(np.clip(2000 + 800 * arr, 1, 65535).astype(np.uint16), bx, by)
    opt = None

    # SAR footprint: the optical footprint in EPSG:4326, about 20 m pixels, a little larger on every side.
    wgs = osr.SpatialReference()
    wgs.ImportFromEPSG(4326)
    wgs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    utm.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    to_wgs = osr.CoordinateTransformation(utm, wgs)
    span = size * pixel
    corners = [to_wgs.TransformPoint(x, y)[:2]
               for x in (x0 - 200, x0 + span + 200) for y in (y0 + 200, y0 - span - 200)]
    lons, lats = [c[0] for c in corners], [c[1] for c in corners]
    step = 20.0 / 111320.0
    cols, rows = int((max(lons) - min(lons)) / step) + 1, int((max(lats) - min(lats)) / step) + 1
    sar = gdal.GetDriverByName("GTiff").Create(str(sar_path), cols, rows, 1, gdal.GDT_Float32, options)
    sar.SetGeoTransform((min(lons), step, 0, max(lats), 0, -step))
    sar.SetProjection(wgs.ExportToWkt())
    for by in range(0, rows, BLOCK):
        for bx in range(0, cols, BLOCK):
            h, w = min(BLOCK, rows - by), min(BLOCK, cols - bx)
            arr = _pattern(by, bx, h, w, seed + 1, 1)[0]
            sar.GetRasterBand(1).WriteArray((-12 + 4 * arr).astype(np.float32), bx, by)
    sar = None
    return opt_path, sar_path


def timed_child(cmd, log_path, env=None):
    """(wall seconds, peak resident MiB or None, return code) of ``cmd`` run as its own process, its output into
    ``log_path``.  The peak comes from GNU time (package ``time``), not from ``wait4`` here: Linux keeps the memory
    high-water mark of the process that spawned a child in the child's ``ru_maxrss``, so a child of this process
    (which holds the forward-alone predictor) would report at least this process's own peak."""
    peak_file = Path(str(log_path) + ".peak")
    peak_file.unlink(missing_ok=True)
    wrapped = [TIME, "-f", "%M", "-o", str(peak_file)] + cmd if Path(TIME).exists() else cmd
    with open(log_path, "w") as log:
        start = time.perf_counter()
        code = subprocess.run(wrapped, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env).returncode
        seconds = time.perf_counter() - start
    peak = None
    if peak_file.exists():
        lines = peak_file.read_text().split()
        peak = int(lines[-1]) / 1024.0 if lines and lines[-1].isdigit() else None
    return seconds, peak, code
