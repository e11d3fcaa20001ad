"""Blocks mapped one by one (in this process, without Dask) put together equal ``segment()`` on the whole scene,
pixel for pixel (the probabilities up to float32 rounding): the sample scene (its SAR in another CRS, warped), and a
scene read at the weights' resolution and brought back onto a finer optical grid."""

import numpy as np
import pytest
from helpers.inference import run_segment
from helpers.rasters import read_raster, stripe_pair

from model.distributed.assemble import build_vrt
from model.distributed.block import run_block
from model.distributed.plan import plan_blocks
from model.distributed.scene import plan_sources, prepare_scene
from model.inference import SegmentOptions
from model.inference.runtime import load_predictor
from model.weights import open_weights

SAMPLE = "resources/sample/"
SAMPLE_EXTENT = (601000.0, 5096000.0, 602000.0, 5097000.0)  # 100 x 100 pixels of the sample, its SAR in EPSG:4326


def blocks_mosaic(folder, optical, sar, weights, block_size, **settings):
    """The VRT of every block of the scene mapped by :func:`run_block`, and the blocks."""
    opened = open_weights(weights)
    meta = opened.metadata
    plan = prepare_scene(SegmentOptions(str(optical), str(sar), str(weights), str(folder / "x.tif"), **settings),
                         meta, lambda m: None)
    predictor = load_predictor(opened, device="cpu", log=None)
    blocks = plan_blocks(plan.model, plan.output, plan.tile, plan.overlap, block_size, sources=plan_sources(plan))
    paths, confidences = [], []
    for block in blocks:
        paths.append(folder / f"block_{block.key}.tif")
        confidences.append(folder / f"confidence_{block.key}.tif")
        result = run_block(plan, block, paths[-1], predictor, meta, confidence=confidences[-1])
        assert result["pixels"] == list(np.bincount(read_raster(paths[-1]).ravel(), minlength=256)[:2])
    return build_vrt(folder / "mosaic.vrt", paths, meta), build_vrt(folder / "confidence.vrt", confidences, meta), \
        blocks


def assert_same(single, vrt, confidence_vrt):
    whole, mosaic = read_raster(single.output_path), read_raster(vrt)
    assert mosaic.shape == whole.shape and (mosaic == whole).all()
    probability, blocks = read_raster(single.confidence_path), read_raster(confidence_vrt)
    # the blended probabilities: the same but for float32 rounding, as PyTorch's kernels round a tile's outputs
    # differently in batches of other sizes (tiles are batched along the block's rows, not the scene's)
    assert np.abs(probability - blocks).max() <= 5e-7
    assert np.unique(probability).size > 1000


def test_blocks_equal_one_run_on_the_sample_scene(tmp_path, tiny_weights):
    settings = dict(tile_size=32, overlap=8, device="cpu", extent=SAMPLE_EXTENT)
    single = run_segment(SAMPLE + "optical.tif", SAMPLE + "sar.tif", tiny_weights, tmp_path / "single.tif",
                         confidence=str(tmp_path / "single_confidence.tif"), **settings)
    vrt, confidence, blocks = blocks_mosaic(tmp_path, SAMPLE + "optical.tif", SAMPLE + "sar.tif", tiny_weights, 48,
                                            **settings)
    # the network runs on the extent and 32 px around it (164 x 164): 3 x 3 blocks of 48 px
    assert len(blocks) == 9 and single.width == single.height == 100
    assert_same(single, vrt, confidence)


def test_blocks_equal_one_run_with_onnx_weights_in_int8(tmp_path, tiny_onnx):
    """The default CPU path for ONNX weights (int8 matrix products, quantised per tile): blocks still equal one run."""
    settings = dict(tile_size=32, overlap=8, device="cpu", extent=SAMPLE_EXTENT)
    single = run_segment(SAMPLE + "optical.tif", SAMPLE + "sar.tif", tiny_onnx, tmp_path / "single.tif",
                         confidence=str(tmp_path / "single_confidence.tif"), **settings)
    assert single.device == "ONNX Runtime CPUExecutionProvider (int8 matrix products)"
    vrt, confidence, _ = blocks_mosaic(tmp_path, SAMPLE + "optical.tif", SAMPLE + "sar.tif", tiny_onnx, 48,
                                       **settings)
    assert_same(single, vrt, confidence)


@pytest.mark.parametrize("extent, size, n_blocks", [(None, (140, 160), 9),
                                                    ((500150.0, 4599350.0, 500455.0, 4599750.0), (61, 80), 6)])
def test_blocks_equal_one_run_read_at_the_weights_resolution(tmp_path, tiny_weights, extent, size, n_blocks,
                                                             pixel=5.0):
    """Inputs read at 10 m, map on the 5 m optical grid; with an extent the network runs on the extent widened by
    32 model pixels (here: the whole raster) and the map keeps the extent's own pixels (blocks without any: none)."""
    optical, sar = stripe_pair(tmp_path, rows=80, cols=70)
    from osgeo import gdal
    fine = tmp_path / "fine.tif"
    gdal.Translate(str(fine), str(optical), xRes=pixel, yRes=pixel, resampleAlg="near")
    settings = dict(tile_size=32, overlap=8, device="cpu", extent=extent)
    single = run_segment(fine, sar, tiny_weights, tmp_path / "single.tif",
                         confidence=str(tmp_path / "single_confidence.tif"), **settings)
    vrt, confidence, blocks = blocks_mosaic(tmp_path, fine, sar, tiny_weights, 30, **settings)
    assert len(blocks) == n_blocks and (single.width, single.height) == size
    assert_same(single, vrt, confidence)
