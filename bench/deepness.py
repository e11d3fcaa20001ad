"""Deepness (the QGIS inference plugin) on EDC's own network, for ``bench/peer.py``.

Deepness takes one ONNX model with one NCHW input and reads one raster.  :func:`export_wrapper` writes the default
weights' graph, cut to its ``probabilities`` output, behind one 4-channel input (split into ``optical`` and ``sar``
inside the graph), with the metadata Deepness reads (model_type, class_names, resolution, tile_size, tiles_overlap,
standardization_mean/std).  Deepness scales every input by 1/255 and then standardises it; the standardisation
constants are set to the per-scene statistics ``edc:segment`` computes (mean = offset / 255, std = scale / 255), so
that both feed the network the same normalised values, (x - offset) / scale.  The input shape is fixed to one tile,
as ONNX Runtime gets it in EDC's CPU sessions.

``python -m bench.deepness --raster R --model M --out O.npy ...`` (with a Deepness checkout's ``src`` on PYTHONPATH,
and OpenCV, which Deepness needs) runs Deepness headless, as its own tests do: QGIS initialised without a GUI,
``MapProcessorSegmentation`` over the entire layer with overlap in pixels, ONNX Runtime on the CPU provider.  It
saves the class map (Deepness's values: class + 1) and prints one JSON line.  No Deepness code is copied here.
"""

import argparse
import json
import os
import time

import numpy as np

INPUT = "image"


def export_wrapper(weights_path, optical_stats, sar_stats, path):
    """Write the Deepness model of the weights at ``weights_path`` normalised with the given EDC statistics."""
    import onnx
    from onnx import TensorProto, helper

    from model.weights import open_weights
    from model.weights.onnx_proto import keep_outputs
    weights = open_weights(weights_path)
    meta = weights.metadata
    tile, overlap = meta["tile_size"], meta["overlap"]
    model = onnx.load_from_string(keep_outputs(weights.onnx_bytes, ["probabilities"]))
    graph = model.graph
    n_opt, n_sar = (len(meta["inputs"][k]["bands"]) for k in ("optical", "sar"))
    del graph.input[:]
    graph.input.append(helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, [1, n_opt + n_sar, tile, tile]))
    splits = [helper.make_tensor(f"peer_{n}", TensorProto.INT64, [1], [v]) for n, v in
              (("zero", 0), ("mid", n_opt), ("end", n_opt + n_sar), ("axis", 1))]
    graph.initializer.extend(splits)
    nodes = [helper.make_node("Slice", [INPUT, "peer_zero", "peer_mid", "peer_axis"], ["optical"]),
             helper.make_node("Slice", [INPUT, "peer_mid", "peer_end", "peer_axis"], ["sar"])]
    for node in reversed(nodes):
        graph.node.insert(0, node)
    out = graph.output[0].type.tensor_type.shape
    for dim, value in zip(out.dim, (1, len(meta["classes"]), tile, tile)):
        dim.Clear()
        dim.dim_value = value
    offsets = optical_stats["offset"] + sar_stats["offset"]
    scales = optical_stats["scale"] + sar_stats["scale"]
    props = {"model_type": "Segmentor",
             "class_names": {str(c["value"]): c["name"] for c in meta["classes"]},
             "resolution": meta["gsd_m"] * 100.0,  # cm per pixel
             "tile_size": tile, "tiles_overlap": round(100 * overlap / tile),  # Deepness's UI: percent
             "standardization_mean": [o / 255.0 for o in offsets],
             "standardization_std": [s / 255.0 for s in scales]}
    del model.metadata_props[:]
    for key, value in props.items():
        model.metadata_props.add(key=key, value=json.dumps(value))
    onnx.save(model, str(path))
    return path


def _cpu_only_onnxruntime():
    """Deepness asks ONNX Runtime for CUDA then the CPU; the comparison is on the CPU provider alone."""
    import onnxruntime
    session = onnxruntime.InferenceSession

    def cpu_session(path, sess_options=None, providers=None, **kwargs):
        return session(path, sess_options, providers=["CPUExecutionProvider"], **kwargs)
    onnxruntime.InferenceSession = cpu_session


def _channels_mapping(bands):
    from deepness.common.channels_mapping import ChannelsMapping, ImageChannelStandaloneBand
    mapping = ChannelsMapping()
    mapping.set_image_channels([ImageChannelStandaloneBand(band_number=b + 1, name=f"band {b + 1}")
                                for b in range(bands)])
    mapping.set_number_of_model_inputs_same_as_image_channels()
    return mapping


def run_deepness(raster, model_path, tile, overlap, resolution_cm, batch_size=1):
    """(class map (H, W) uint8 with Deepness's values, seconds to load the model, seconds of map processing, tiles
    processed)."""
    from unittest.mock import MagicMock

    from qgis.core import QgsApplication, QgsProject, QgsRasterLayer

    from deepness.common.processing_overlap import ProcessingOverlap, ProcessingOverlapOptions
    from deepness.common.processing_parameters.map_processing_parameters import ProcessedAreaType
    from deepness.common.processing_parameters.segmentation_parameters import SegmentationParameters
    from deepness.processing.map_processor.map_processor_segmentation import MapProcessorSegmentation
    from deepness.processing.models.segmentor import Segmentor

    app = QgsApplication([b""], False)
    app.initQgis()
    _cpu_only_onnxruntime()
    layer = QgsRasterLayer(str(raster), "stacked")
    if not layer.isValid():
        raise SystemExit(f"QGIS cannot open {raster}")
    QgsProject.instance().addMapLayer(layer)
    start = time.perf_counter()
    model = Segmentor(str(model_path))
    loaded = time.perf_counter()
    params = SegmentationParameters(
        resolution_cm_per_px=resolution_cm, tile_size_px=tile, batch_size=batch_size, local_cache=False,
        processed_area_type=ProcessedAreaType.ENTIRE_LAYER, mask_layer_id=None, input_layer_id=layer.id(),
        input_channels_mapping=_channels_mapping(layer.bandCount()), postprocessing_dilate_erode_size=0,
        processing_overlap=ProcessingOverlap(ProcessingOverlapOptions.OVERLAP_IN_PIXELS, overlap_px=overlap),
        pixel_classification__probability_threshold=0.0, model=model)
    processor = MapProcessorSegmentation(rlayer=layer, vlayer_mask=None, map_canvas=MagicMock(), params=params)
    processor.run()
    result = processor.get_result_img()  # raises where the run failed (IS_DEBUG re-raises its exception)
    done = time.perf_counter()
    return np.asarray(result[0]), loaded - start, done - loaded, processor.x_bins_number * processor.y_bins_number


def main(argv=None):
    parser = argparse.ArgumentParser(description="Deepness headless on one stacked raster (bench/peer.py's child)")
    parser.add_argument("--raster", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--out", required=True, help=".npy file for the class map")
    parser.add_argument("--tile", type=int, required=True)
    parser.add_argument("--overlap", type=int, required=True)
    parser.add_argument("--resolution-cm", type=float, required=True)
    parser.add_argument("--batch-size", type=int, default=1)
    args = parser.parse_args(argv)
    os.environ.setdefault("IS_DEBUG", "1")  # Deepness re-raises errors instead of only logging them
    classes, load_s, processing_s, tiles = run_deepness(args.raster, args.model, args.tile, args.overlap,
                                                 args.resolution_cm, args.batch_size)
    np.save(args.out, classes)
    print(json.dumps({"load_s": load_s, "processing_s": processing_s, "tiles": tiles, "shape": list(classes.shape)}),
          flush=True)


if __name__ == "__main__":
    main()
