"""Against the peer: ``edc:segment`` end to end, the same network's forward passes alone, and Deepness.

For each scene size (optical 3-band UInt16 and SAR 1-band Float32 dB on the same 10 m grid, plus the same pixels
stacked into one 4-band Float32 raster for Deepness), in one run, alternating, ``--repeats`` times:

(a) ``edc:segment`` through ``.build/qgis_process`` with the default settings (no WEIGHTS, no TILE_SIZE: the bundled
    default weights, their tile size and overlap, Automatic device), each run its own process: wall time from its
    start to its exit, peak resident memory (GNU time, package ``time``);
(b) the same weights' forward passes alone, with the predictor ``edc:segment`` builds (probabilities only; int8
    matrix products on the CPU unless ``--cpu-float32``), over as many tiles of the same shape in batches of the same
    size, after a warm-up: the physical limit here;
(c) with ``--deepness PATH`` (a Deepness checkout, fetched by the user; OpenCV must be importable, or its folder
    given with ``--deepness-packages``): Deepness headless on the same network (see bench/deepness.py), tiles,
    overlap and pixels, ONNX Runtime's CPU provider, each run its own process (QGIS start included, as for (a)).

The table gives medians and the class maps' agreement (EDC against Deepness, interior pixels: a margin of one tile,
at most a quarter of the scene's side, left out at the borders).  Tile size and overlap are read from the default
weights (``--edc-tile N``: EDC and its forward passes on N px tiles, Deepness on the weights'); Deepness runs the
float32 graph.

    nice -n 10 .venv/bin/python -m bench.peer [--sizes 2048 4096 8192] [--repeats 3] [--deepness PATH]
        [--deepness-packages DIR] [--workdir /tmp/edc-peer] [--json-out results.json] [--edc-tile N]
        [--cpu-float32]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.common import BLOCK, DEFAULT_ONNX, ROOT, header, timed_child

QGIS_PROCESS = ROOT / ".build" / "qgis_process"
OWN_PROFILE = ("QGIS_CUSTOM_CONFIG_PATH", "QGIS_PLUGINPATH")  # set by pytest-qgis, for one: left to the wrapper
PIXEL_M = 10.0
LAND, WATER = (2500.0, 3000.0, 1200.0, -8.0), (150.0, 300.0, 800.0, -20.0)  # B11, B8, B3 reflectance x 1e4; VV dB


def flood_block(y0, x0, h, w, seed=0):
    """(optical (3, h, w) UInt16, SAR (h, w) Float32 dB) of the block at (y0, x0) of a generated flood scene: water
    bodies with sharp shores (roughly half of the pixels) in land, Sentinel-2 / Sentinel-1-like values with noise, so
    that the network is confident almost everywhere and the class maps of two tools can be compared."""
    yy, xx = np.mgrid[y0:y0 + h, x0:x0 + w].astype(np.float32)
    water = np.sin(xx / 97.0) * np.cos(yy / 131.0) + 0.5 * np.sin((xx + yy) / 53.0) > 0.4
    rng = np.random.default_rng(seed + y0 * 7919 + x0)
    values = np.where(water, np.array(WATER, np.float32)[:, None, None], np.array(LAND, np.float32)[:, None, None])
    optical = values[:3] * (1 + rng.normal(0, 0.08, (3, h, w)).astype(np.float32))
    sar = values[3] + rng.normal(0, 2.0, (h, w)).astype(np.float32)
    return np.clip(optical, 1, 65535).astype(np.uint16), sar.astype(np.float32)


def make_peer_scene(folder, size, seed=0):
    """(optical, SAR, stacked) GeoTIFFs of the :func:`flood_block` scene, ``size`` x ``size`` pixels on one UTM 10 m
    grid, in ``folder``: optical 3-band UInt16, SAR 1-band Float32 dB, stacked 4-band Float32 (the same values);
    tiled, deflate; written block by block.  Reused when already there."""
    from osgeo import gdal, osr
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"peer_{name}_{size}.tif" for name in ("optical", "sar", "stacked")]
    if all(p.exists() for p in paths):
        return tuple(paths)
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32633)
    options = ["TILED=YES", "COMPRESS=DEFLATE", "BIGTIFF=IF_SAFER"]
    parts = [p.with_name(p.name + ".part") for p in paths]
    rasters = [gdal.GetDriverByName("GTiff").Create(str(p), size, size, bands, kind, options)
               for p, bands, kind in zip(parts, (3, 1, 4), (gdal.GDT_UInt16, gdal.GDT_Float32, gdal.GDT_Float32))]
    for raster in rasters:
        raster.SetGeoTransform((500000.0, PIXEL_M, 0, 5000000.0, 0, -PIXEL_M))
        raster.SetProjection(srs.ExportToWkt())
    optical, sar, stacked = rasters
    for by in range(0, size, BLOCK):
        for bx in range(0, size, BLOCK):
            h, w = min(BLOCK, size - by), min(BLOCK, size - bx)
            opt, sar_block = flood_block(by, bx, h, w, seed)
            bands = list(opt) + [sar_block]
            for b, band in enumerate(bands):
                (optical.GetRasterBand(b + 1) if b < 3 else sar.GetRasterBand(1)).WriteArray(band, bx, by)
                stacked.GetRasterBand(b + 1).WriteArray(band.astype(np.float32), bx, by)
    rasters = optical = sar = stacked = None
    for part, path in zip(parts, paths):
        part.replace(path)
    return tuple(paths)


def _failed(what, log_path):
    tail = Path(log_path).read_text(errors="replace")[-3000:]
    return SystemExit(f"{what} failed; the end of its output ({log_path}):\n{tail}")


def as_new(*rasters):
    """Remove the rasters' GDAL side files (``.aux.xml``): QGIS stores there the statistics and histograms it computes
    when it first opens a raster, and every timed run should start from files as a user first gets them."""
    for raster in rasters:
        Path(str(raster) + ".aux.xml").unlink(missing_ok=True)


def run_edc(optical, sar, output, work, tile=None, cpu_int8=True):
    """One ``edc:segment`` run through qgis_process with the default settings (``tile``: TILE_SIZE instead of the
    weights' tile size; ``cpu_int8`` False: CPU_INT8=false): (seconds, peak MiB)."""
    log = Path(work) / "edc_segment.log"
    Path(output).unlink(missing_ok=True)
    as_new(optical, sar)
    cmd = [str(QGIS_PROCESS), "--json", "run", "edc:segment", "--", f"OPTICAL={optical}", f"SAR={sar}",
           f"OUTPUT={output}"] + ([f"TILE_SIZE={tile}"] if tile else []) + ([] if cpu_int8 else ["CPU_INT8=false"])
    env = {k: v for k, v in os.environ.items() if k not in OWN_PROFILE}  # the wrapper's profile, with EDC enabled
    seconds, peak, code = timed_child(cmd, log, env)
    if code != 0 or not Path(output).exists():
        raise _failed("edc:segment through qgis_process", log)
    return seconds, peak


class ForwardAlone:
    """The default weights' forward passes alone, as ``edc:segment`` runs them on a ``size`` x ``size`` scene."""

    def __init__(self, weights_path, tile=None, int8=True):
        from model.inference.runtime import load_predictor
        from model.weights import open_weights
        weights = open_weights(weights_path)
        self.weights_tile, self.overlap = weights.metadata["tile_size"], weights.metadata["overlap"]
        self.tile = tile or self.weights_tile
        self.predictor = load_predictor(weights, device="auto", log=lambda m: None, outputs=("probabilities",),
                                        int8=int8)
        self.batch = self.predictor.default_batch
        self.device = self.predictor.device

    def tiles(self, size):
        from model.inference.tiling import TileGrid
        return TileGrid(size, size, self.tile, self.overlap).n_tiles

    def seconds(self, size):
        rng = np.random.default_rng(0)
        tile = min(self.tile, size)
        batch = (rng.random((self.batch, 3, tile, tile), dtype=np.float32),
                 rng.random((self.batch, 1, tile, tile), dtype=np.float32))
        self.predictor.predict(*batch)  # warm-up (and the session for this tile shape)
        start, left = time.perf_counter(), self.tiles(size)
        while left > 0:
            n = min(self.batch, left)
            self.predictor.predict(batch[0][:n], batch[1][:n])
            left -= n
        return time.perf_counter() - start


def edc_statistics(optical, sar, weights_path):
    """The per-scene normalisation statistics ``edc:segment`` computes for this pair: (optical, SAR)."""
    from model.inference import SegmentOptions
    from model.inference.decoding import decode_inputs
    from model.inference.inputs import input_statistics, open_inputs
    from model.weights import open_weights
    options = SegmentOptions(str(optical), str(sar), str(weights_path), "unused.tif")
    meta = open_weights(weights_path).metadata
    pair = decode_inputs(open_inputs(options, meta, lambda m: None), options.sar_units, lambda m: None)
    return input_statistics(pair, meta, lambda m: None)


class Deepness:
    """Deepness runs on the stacked raster, each in its own Python process (bench/deepness.py)."""

    def __init__(self, checkout, packages, work):
        src = Path(checkout) / "src"
        if not (src / "deepness" / "processing" / "map_processor").is_dir():
            raise SystemExit(f"--deepness {checkout}: no src/deepness/processing/map_processor there; give the "
                             "folder of a Deepness (qgis-plugin-deepness) checkout.")
        self.work = Path(work)
        paths = [str(ROOT), str(src)] + ([str(packages)] if packages else [])
        paths += [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
        self.env = dict(os.environ, PYTHONPATH=os.pathsep.join(paths),
                        QT_QPA_PLATFORM="offscreen", IS_DEBUG="1")
        self.env.setdefault("XDG_RUNTIME_DIR", str(ROOT / ".build" / "runtime"))
        check = subprocess.run([sys.executable, "-c", "import cv2, deepness.processing.models.segmentor"],
                               env=self.env, cwd=ROOT, capture_output=True, text=True)
        if check.returncode:
            raise SystemExit("Deepness cannot be imported here (it needs OpenCV: pip install --target DIR "
                             "opencv-python-headless, then --deepness-packages DIR): "
                             f"{check.stderr.strip().splitlines()[-1]}")

    def model(self, optical, sar, weights_path, size):
        from bench.deepness import export_wrapper
        path = self.work / f"peer_deepness_{size}.onnx"
        return export_wrapper(weights_path, *edc_statistics(optical, sar, weights_path), path)

    def run(self, stacked, model, out, tile, overlap):
        """(seconds, peak MiB, tiles processed) of one Deepness run writing its class map to ``out`` (.npy)."""
        log = self.work / "deepness.log"
        Path(out).unlink(missing_ok=True)
        as_new(stacked)
        cmd = [sys.executable, "-m", "bench.deepness", "--raster", str(stacked), "--model", str(model), "--out",
               str(out), "--tile", str(tile), "--overlap", str(overlap), "--resolution-cm", str(PIXEL_M * 100)]
        seconds, peak, code = timed_child(cmd, log, self.env)
        if code != 0 or not Path(out).exists():
            raise _failed("Deepness", log)
        return seconds, peak, json.loads(log.read_text().strip().splitlines()[-1])["tiles"]


def agreement(edc_map, deepness_map, margin):
    """Percentage of interior pixels (``margin`` left out at every border) where EDC's class (0, 1, ...) equals
    Deepness's (class + 1).  Both tile with the same size and overlap, but where the scene is not a whole number of
    strides past one tile EDC moves its last tile back inside the scene, while Deepness extends the processed area
    above and to the right (with nodata): the tiles then sit at other places and see other context."""
    from osgeo import gdal
    edc = gdal.Open(str(edc_map)).ReadAsArray()
    peer = np.load(deepness_map)
    if edc.shape != peer.shape:
        raise SystemExit(f"The class maps differ in shape: EDC {edc.shape}, Deepness {peer.shape}.")
    inner = np.s_[margin:edc.shape[0] - margin, margin:edc.shape[1] - margin]
    return 100.0 * float(np.mean(edc[inner].astype(np.int16) == peer[inner].astype(np.int16) - 1))


def measure(size, args, forward, deepness, work):
    """One row of the table: medians over ``args.repeats`` alternating runs of (a), (b) and (c)."""
    optical, sar, stacked = make_peer_scene(work, size)
    output, peer_out = work / f"peer_edc_{size}.tif", work / f"peer_deepness_{size}.npy"
    model = deepness.model(optical, sar, DEFAULT_ONNX, size) if deepness else None
    runs = {"edc": [], "forward": [], "deepness": [], "edc_mib": [], "deepness_mib": []}
    peer_tiles = None
    for _ in range(args.repeats):  # forward passes first: their warm-up fills the session cache EDC's runs then use
        runs["forward"].append(forward.seconds(size))
        seconds, peak = run_edc(optical, sar, output, work, args.edc_tile, args.cpu_int8)
        runs["edc"].append(seconds)
        runs["edc_mib"].append(peak)
        if deepness:
            seconds, peak, peer_tiles = deepness.run(stacked, model, peer_out, args.peer_tile, forward.overlap)
            runs["deepness"].append(seconds)
            runs["deepness_mib"].append(peak)
    row = {"size": size, "tiles": forward.tiles(size), "deepness_tiles": peer_tiles,
           "runs": {k: [v if v is None else round(v, 2) for v in vs] for k, vs in runs.items()}}
    row.update({k: statistics.median(vs) if vs and None not in vs else None for k, vs in runs.items()})
    row["edc_over_forward"] = row["edc"] / row["forward"]
    row["edc_over_deepness"] = row["edc"] / row["deepness"] if deepness else None
    row["mib_ratio"] = row["edc_mib"] / row["deepness_mib"] if row["edc_mib"] and row["deepness_mib"] else None
    margin = min(max(forward.tile, args.peer_tile), size // 4)
    row["agreement_pct"] = agreement(output, peer_out, margin) if deepness else None
    return row


COLUMNS = (("size", "{}"), ("edc", "{:.1f}"), ("forward", "{:.1f}"), ("edc_over_forward", "{:.2f}"),
           ("deepness", "{:.1f}"), ("edc_over_deepness", "{:.2f}"), ("edc_mib", "{:.0f}"),
           ("deepness_mib", "{:.0f}"), ("mib_ratio", "{:.2f}"), ("agreement_pct", "{:.2f}"))
TITLES = ("size", "EDC s", "forward alone s", "EDC / forward", "Deepness s", "EDC / Deepness", "EDC peak MiB",
          "Deepness peak MiB", "EDC / Deepness memory", "agreement %")


def table(rows):
    """The results as a Markdown table ("-" where Deepness was not run)."""
    lines = ["| " + " | ".join(TITLES) + " |", "|" + "---|" * len(TITLES)]
    for row in rows:
        cells = ["-" if row[key] is None else fmt.format(row[key]) for key, fmt in COLUMNS]
        cells[0] = f"{row['size']}^2"
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


FORWARD_TARGET, PEER_TARGET = 1.10, 0.75  # issue "Fast by default": at 2048^2 and above; at every size


def verdicts(rows):
    """One line per target of the issue "Fast by default" the rows can judge: PASS or MISS with the figures."""
    lines = []
    big = [r for r in rows if r["size"] >= 2048]
    if big:
        worst = max(r["edc_over_forward"] for r in big)
        lines.append(f"end to end / forward alone at 2048^2 and above: worst {worst:.2f} (target <= {FORWARD_TARGET}): "
                     f"{'PASS' if worst <= FORWARD_TARGET else 'MISS'}")
    peer_rows = [r for r in rows if r["edc_over_deepness"] is not None]
    if peer_rows:
        worst = max(r["edc_over_deepness"] for r in peer_rows)
        lines.append(f"EDC / Deepness time: worst {worst:.2f} (target <= {PEER_TARGET}): "
                     f"{'PASS' if worst <= PEER_TARGET else 'MISS'}")
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2048, 4096, 8192])
    parser.add_argument("--repeats", type=int, default=3, help="alternating runs of each measurement (median)")
    parser.add_argument("--deepness", help="folder of a Deepness (qgis-plugin-deepness) checkout")
    parser.add_argument("--deepness-packages", help="folder with OpenCV for Deepness (pip install --target)")
    parser.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "edc-peer"))
    parser.add_argument("--json-out", help="append the results as one JSON line to this file")
    parser.add_argument("--edc-tile", type=int, help="EDC's TILE_SIZE (and the forward passes' tiles) instead of the "
                                                     "weights' tile size; Deepness keeps the weights' tile size")
    parser.add_argument("--cpu-float32", dest="cpu_int8", action="store_false",
                        help="EDC and its forward passes in float32 on the CPU (CPU_INT8=false), as before int8")
    args = parser.parse_args(argv)
    if not QGIS_PROCESS.exists():
        raise SystemExit(f"{QGIS_PROCESS} is missing; run `make plugin` first.")
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    # ONNX Runtime's optimised graphs (model/inference/session_cache.py): with the benchmark's files, not the user's
    os.environ.setdefault("EDC_CACHE_DIR", str(work / "edc-cache"))
    forward = ForwardAlone(DEFAULT_ONNX, args.edc_tile, args.cpu_int8)
    args.peer_tile = forward.weights_tile
    deepness = Deepness(args.deepness, args.deepness_packages, work) if args.deepness else None
    title = header("peer", f", {DEFAULT_ONNX.name}, tiles {forward.tile} px (Deepness {args.peer_tile}), overlap "
                           f"{forward.overlap} px, batch {forward.batch}, EDC on {forward.device}, medians of "
                           f"{args.repeats}")
    print(title, flush=True)
    rows = []
    for size in args.sizes:
        rows.append(measure(size, args, forward, deepness, work))
        print(f"{size}^2: EDC {rows[-1]['tiles']} tiles, Deepness {rows[-1]['deepness_tiles']} tiles, "
              f"runs {rows[-1]['runs']}", flush=True)
    print(table(rows), flush=True)
    for line in verdicts(rows):
        print(line, flush=True)
    if args.json_out:
        with open(args.json_out, "a") as out:
            out.write(json.dumps({"header": title, "rows": rows}) + "\n")
    return rows


if __name__ == "__main__":
    main()
