"""``segment_many`` on a Dask cluster of two worker processes: one scene in blocks equals one ``segment()`` run (the
VRT mosaic and the COG), a rerun does only what is missing or damaged, a bad pair in a list fails by name without
stopping the others, each worker loads the weights once, and a worker killed (SIGKILL) in the middle of a run
does not spoil it (Dask gives its task to another worker; nothing half-written is kept)."""

import json
import os
import signal
from pathlib import Path

import numpy as np
import pytest
from helpers.inference import run_segment
from helpers.rasters import read_raster

from model.distributed import ManyOptions, segment_many

pytestmark = pytest.mark.slow  # a cluster of two worker processes (each imports PyTorch), several runs

SAMPLE = "resources/sample/"
EXTENT = (601000.0, 5096000.0, 602000.0, 5097000.0)  # 100 x 100 pixels of the sample scene (SAR in EPSG:4326)
SETTINGS = dict(tile_size=32, overlap=8, device="cpu", extent=EXTENT)


@pytest.fixture(scope="module")
def single(tmp_path_factory, tiny_weights):
    """``segment()`` on the whole (cropped) sample scene."""
    folder = tmp_path_factory.mktemp("single")
    return run_segment(SAMPLE + "optical.tif", SAMPLE + "sar.tif", tiny_weights, folder / "single.tif", **SETTINGS)


def blocks_run(out, weights, cluster, **kw):
    options = ManyOptions(str(weights), str(out), optical=SAMPLE + "optical.tif", sar=SAMPLE + "sar.tif",
                          block_size=48, scheduler=cluster.scheduler_address, settings=SETTINGS, **kw)
    return segment_many(options)


def test_blocks_equal_one_run_and_a_rerun_does_only_what_is_missing(tmp_path, tiny_weights, dask_cluster, single):
    out = tmp_path / "mosaic.tif"
    result = blocks_run(out, tiny_weights, dask_cluster, cog=True)
    # the network runs on the extent and 32 px around it (164 x 164 model pixels): 3 x 3 blocks of 48
    assert not result.failed and len(result.done) == 9 and result.mosaic and result.cog
    whole = read_raster(single.output_path)
    for mosaic in (result.mosaic, result.cog):
        assert (read_raster(mosaic) == whole).all()
    from osgeo import gdal
    cog = gdal.Open(result.cog)
    assert cog.GetMetadata("IMAGE_STRUCTURE").get("LAYOUT") == "COG"
    assert cog.GetRasterBand(1).GetColorTable() is not None
    assert cog.GetRasterBand(1).GetCategoryNames() == ["background", "flood water"]
    assert gdal.Open(result.mosaic).GetRasterBand(1).GetCategoryNames() == ["background", "flood water"]
    assert [s["pixels"] for s in result.class_stats] == [s["pixels"] for s in single.class_stats]
    manifest = json.loads((tmp_path / "mosaic_blocks" / "manifest.json").read_text())
    assert sorted(manifest["done"]) == sorted(result.done)

    again = blocks_run(out, tiny_weights, dask_cluster)
    assert again.done == [] and len(again.skipped) == 9 and (read_raster(again.mosaic) == whole).all()

    blocks = sorted((tmp_path / "mosaic_blocks").glob("block_*.tif"))
    blocks[0].write_bytes(blocks[0].read_bytes()[:-100])  # a block damaged after it was entered
    blocks[1].unlink()                                     # one lost
    (tmp_path / "mosaic_blocks" / f".{blocks[2].stem}.abcd1234.part.tif").write_bytes(b"half")  # a killed worker's
    third = blocks_run(out, tiny_weights, dask_cluster)
    assert sorted(third.done) == sorted(b.stem[len("block_"):] for b in blocks[:2]) and len(third.skipped) == 7
    assert (read_raster(third.mosaic) == whole).all()
    assert not list((tmp_path / "mosaic_blocks").glob(".*part*"))


def test_a_bad_pair_fails_by_name_and_the_others_are_done(tmp_path, tiny_weights, dask_cluster, single):
    pairs = [("first", SAMPLE + "optical.tif", SAMPLE + "sar.tif"),
             ("missing", SAMPLE + "optical.tif", str(tmp_path / "no_such_sar.tif")),
             ("swapped", SAMPLE + "sar.tif", SAMPLE + "optical.tif"),
             ("second", SAMPLE + "optical.tif", SAMPLE + "sar.tif")]
    result = segment_many(ManyOptions(str(tiny_weights), str(tmp_path / "out"), pairs=pairs,
                                      scheduler=dask_cluster.scheduler_address, settings=SETTINGS))
    assert sorted(result.done) == ["first", "second"]
    reasons = dict(result.failed)
    assert sorted(reasons) == ["missing", "swapped"]
    assert "no_such_sar.tif" in reasons["missing"] and "does not exist" in reasons["missing"]
    assert "optical raster has 1 band" in reasons["swapped"]
    for name in ("first", "second"):
        assert (read_raster(tmp_path / "out" / f"{name}.tif") == read_raster(single.output_path)).all()
        assert (tmp_path / "out" / f"{name}.qml").is_file()
    assert not (tmp_path / "out" / "missing.tif").exists()
    stats = {s["name"]: s["pixels"] for s in result.class_stats}
    assert stats == {s["name"]: 2 * s["pixels"] for s in single.class_stats}


def test_each_worker_loads_the_weights_once(dask_cluster, tiny_weights):
    import distributed

    def loads():
        from model.distributed import worker
        return [key for key in worker.LOADS if key[0] == str(Path(tiny_weights).absolute())]

    with distributed.Client(dask_cluster.scheduler_address) as client:
        per_worker = client.run(loads)
    assert len(per_worker) == 2
    assert sum(len(v) for v in per_worker.values()) >= 1 and all(len(v) <= 1 for v in per_worker.values())


def test_one_pair_or_a_list_not_both(tiny_weights):
    from model.errors import EDCInputError
    with pytest.raises(EDCInputError, match="either a list of pairs or one optical"):
        ManyOptions(str(tiny_weights), "out", pairs=[("a", "o.tif", "s.tif")], optical="o.tif", sar="s.tif")
    with pytest.raises(EDCInputError, match="needs both"):
        ManyOptions(str(tiny_weights), "out.tif", optical="o.tif")


@pytest.mark.real_data
def test_blocks_equal_one_run_on_a_real_pair(tmp_path, shared_data, tiny_weights, dask_cluster):
    from helpers.real_inputs import ssl4eo_pair
    optical, sar = ssl4eo_pair(shared_data, tmp_path)
    settings = dict(tile_size=64, overlap=16, device="cpu")
    single = run_segment(optical, sar, tiny_weights, tmp_path / "single.tif", **settings)
    result = segment_many(ManyOptions(str(tiny_weights), str(tmp_path / "real.tif"), optical=str(optical),
                                      sar=str(sar), block_size=144, scheduler=dask_cluster.scheduler_address,
                                      settings=settings))
    assert not result.failed and len(result.done) == 4
    whole = read_raster(single.output_path)
    assert whole.shape == (1, 263, 263) and (read_raster(result.mosaic) == whole).all()
    assert np.isin(whole, [0, 1, 255]).all() and (whole != 255).mean() > 0.95


def test_a_killed_worker_does_not_spoil_the_run(tmp_path, tiny_weights, dask_cluster):
    import distributed
    single = run_segment(SAMPLE + "optical.tif", SAMPLE + "sar.tif", tiny_weights, tmp_path / "single.tif",
                         **SETTINGS)
    client = distributed.Client(dask_cluster.scheduler_address)
    killed = []

    def kill_one(done, total):
        if not killed:
            busy = [address for address, tasks in client.processing().items() if tasks]
            pids = client.run(os.getpid, workers=busy[:1] or None)
            killed.append(next(iter(pids.values())))
            os.kill(killed[0], signal.SIGKILL)
    try:
        result = segment_many(ManyOptions(str(tiny_weights), str(tmp_path / "m.tif"), optical=SAMPLE + "optical.tif",
                                          sar=SAMPLE + "sar.tif", block_size=24,
                                          scheduler=dask_cluster.scheduler_address, settings=SETTINGS),
                              progress=kill_one)
    finally:
        client.close()
    assert killed and not result.failed and len(result.done) == 25  # the blocks holding pixels of the extent
    assert (read_raster(result.mosaic) == read_raster(single.output_path)).all()
    assert not [p for p in (tmp_path / "m_blocks").iterdir() if ".part" in p.name]
