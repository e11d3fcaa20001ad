"""Benchmark 6: GPU throughput (PyTorch fp32 / fp16, ONNX Runtime CUDA) and the pipeline overhead on the GPU.

Runs on any machine: without a usable NVIDIA GPU it says that it skipped the GPU part and exits 0.

    .venv/bin/python -m bench.gpu [--tiles 64] [--tile 512] [--batch-size 8] [--size 4096]
"""

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.common import bench_weights, header, make_scene, random_batches


def torch_throughput(model, batches, half):
    import torch
    model = model.cuda().eval()
    with torch.no_grad(), torch.autocast("cuda", dtype=torch.float16, enabled=half):
        gpu = [(torch.from_numpy(o).cuda(), torch.from_numpy(s).cuda()) for o, s in batches]
        outputs = [torch.softmax(model(o, s)["logits"].float(), 1) for o, s in gpu[:2]]  # warm-up
        torch.cuda.synchronize()
        start = time.perf_counter()
        outputs = [torch.softmax(model(o, s)["logits"].float(), 1).cpu().numpy() for o, s in gpu]
        torch.cuda.synchronize()
        seconds = time.perf_counter() - start
    pixels = sum(o.shape[0] * o.shape[2] * o.shape[3] for o, _ in batches)
    return pixels / seconds / 1e6, outputs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiles", type=int, default=64)
    parser.add_argument("--tile", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--size", type=int, default=4096, help="scene side for the GPU pipeline overhead")
    parser.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "edc-bench"))
    args = parser.parse_args(argv)
    import torch
    try:
        import onnxruntime
        ort_cuda = "CUDAExecutionProvider" in onnxruntime.get_available_providers()
    except ImportError:
        ort_cuda = False
    print(header("GPU", f", {args.tiles} tiles of {args.tile} px, batch {args.batch_size}"))
    if not torch.cuda.is_available():
        print("skipped the GPU part: PyTorch sees no CUDA device on this machine "
              f"(ONNX Runtime CUDA provider {'listed' if ort_cuda else 'not available'}).")
        return
    print(f"GPU: {torch.cuda.get_device_name(0)}")
    from bench.pipeline import model_only_seconds, run_segment
    from bench.runtimes import throughput
    from model.inference.runtime import load_predictor
    from model.weights import open_weights
    from model.weights.onnx_export import export_onnx

    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    pt = bench_weights(work, "small")
    weights = open_weights(pt)
    model, meta = weights.build_model(), weights.metadata
    n_opt, n_sar = len(meta["inputs"]["optical"]["bands"]), len(meta["inputs"]["sar"]["bands"])
    batches = random_batches(args.tiles, args.tile, args.batch_size, n_opt, n_sar)
    fp32, ref = torch_throughput(model, batches, half=False)
    fp16, out16 = torch_throughput(model, batches, half=True)
    agree16 = np.mean([np.mean(a.argmax(1) == b.argmax(1)) for a, b in zip(ref, out16)])
    print(f"PyTorch CUDA fp32: {fp32:.1f} Mpx/s; fp16 autocast: {fp16:.1f} Mpx/s "
          f"(same class as fp32 on {agree16 * 100:.3f}% of pixels)")
    if ort_cuda:
        onnx = work / "edc_bench.onnx"
        export_onnx(model.cpu(), meta, onnx)
        predictor = load_predictor(open_weights(onnx), device="cuda", log=lambda m: None)
        mpx, _ = throughput(predictor, batches)
        print(f"ONNX Runtime {predictor.device}: {mpx:.1f} Mpx/s")
    else:
        print("ONNX Runtime: no CUDA execution provider in this installation; skipped.")

    optical, sar = make_scene(work, args.size)
    run_segment(*make_scene(work, 512), pt, work / "warmup_gpu.tif", args.batch_size, device="cuda")
    seconds, n_tiles, tile, result = run_segment(optical, sar, pt, work / "landcover_gpu.tif", args.batch_size,
                                                 device="cuda")
    forward = model_only_seconds(pt, n_tiles, tile, args.batch_size, device="cuda")
    print(f"segment() {args.size}x{args.size} on {result.device}: {seconds:.1f} s; "
          f"forward passes alone {forward:.1f} s; pipeline overhead ratio on the GPU: {seconds / forward:.2f}")


if __name__ == "__main__":
    main()
