"""The options of a training run (``TrainOptions``), their ``--help`` text and the checks of their values.

Imports nothing heavy: the QGIS algorithm builds a ``TrainOptions`` before torch is loaded.
"""

import dataclasses
from typing import Optional

from ..errors import EDCError
from ..vocabulary import ARCHITECTURES, DATASET_KINDS, EDC_VERSIONS, PRESET_NAMES, SAR_WIDTH_RANGE

PHASES = ("teacher", "student")
# options that may change between a run and its --resume (they do not change the result)
RUNTIME_ONLY = ("resume", "progress_bar", "workers", "threads", "time_limit")


@dataclasses.dataclass
class TrainOptions:
    data: str
    dataset: str = "auto"
    out: str = "runs/edc"
    train_split: str = "train"          # comma-separated splits are concatenated
    val_split: Optional[str] = None     # default: hold out --val-fraction of the training samples
    val_fraction: float = 0.1
    architecture: str = "edc"
    preset: str = "small"
    sar_width: Optional[float] = None   # EDC: SAR stream width / optical width (default: the preset's, 0.5)
    edc_version: int = 1                # EDC network version (model/network/config.py)
    net_options: Optional[str] = None   # comma-separated key=value overrides of the network config
    epochs: int = 10
    teacher_epochs: Optional[int] = None  # default: half of --epochs (0 when distillation is off)
    batch_size: int = 8
    crop: Optional[int] = 192
    lr: float = 2e-3
    weight_decay: float = 0.01
    seed: int = 0
    workers: int = 0
    cloud_probability: float = 0.7     # chance of synthetic clouds on a clear training sample
    max_cloud_coverage: float = 0.7    # synthetic cloud fraction drawn uniformly from 0.05..this
    w_ce: float = 1.0
    w_cloud: float = 1.0
    w_distill: float = 0.5
    cloudy_weight: float = 4.0
    w_reliability: float = 0.5          # our addition: supervise the DCHF reliability maps with the cloud mask
    soft_reliability: bool = False      # v2 recipe: reliability target = synthetic clouds' transmission
    ignore_real_clouds: bool = False    # v2 recipe: real clouds of training patches out of 3 losses
    init_from_teacher: bool = False     # v2 recipe: the student starts from the teacher's weights
    distill_cloudy: float = 0.0         # weight of cloudy pixels in the distillation term (clear pixels: 1)
    normalization: str = "percentile"  # percentile (robust per image, 2-98 %)
    device: str = "auto"
    amp: bool = True
    threads: Optional[int] = None
    resume: bool = False
    max_samples: Optional[int] = None
    weights_out: Optional[str] = None  # default <out>/model.pt
    onnx: bool = False
    half_weights: bool = False         # store the weights as float16 (half the file size)
    tile_size: int = 256
    overlap: int = 32
    progress_bar: bool = True
    time_limit: Optional[float] = None  # minutes; past it the teacher phase ends early and the student stops


def _one_of(names):
    return f"{', '.join(names[:-1])} or {names[-1]}"


HELP = {
    "data": "dataset folder",
    "dataset": f"{', '.join(DATASET_KINDS)} or auto (guess from the folder layout)",
    "out": "work folder: checkpoint.pt, log.csv, plots, model.pt",
    "train_split": "split folder(s) to train on, comma-separated (e.g. train or train,test)",
    "val_split": "split to validate on (default: hold out --val-fraction of the training samples)",
    "val_fraction": "share of the training samples held out for validation when no --val-split",
    "architecture": _one_of(ARCHITECTURES),
    "preset": f"model size: {_one_of(PRESET_NAMES)}",
    "sar_width": "EDC only: width of the SAR stream as a fraction of the optical stream's (default: the preset's "
                 "0.5; 1.0 = as wide)",
    "edc_version": "EDC network version: 1 (the shipped weights' network), 2 (U-Net decoder, padded carriers "
                   "masked, global stage 4, reliability-weighted carriers, r as gate input, MLP ratio 4) or 3 (2 "
                   "with the CloudSeg fusion after DCHF's gate)",
    "net_options": "comma-separated key=value overrides of the network config, values as JSON or plain text "
                   "(e.g. decoder=multiscale,mlp_ratio=2,mask_padding=false,window=[16,8]; keys in "
                   "model/network/config.py)",
    "soft_reliability": "reliability target = share of the ground signal the synthetic clouds let through (1 - "
                        "opacity, shadows and thin edges included) instead of 1 - the binary cloud mask",
    "ignore_real_clouds": "leave the real clouds of 8-bit training patches (bright grey pixels) out of the "
                          "reliability, cloud-removal and distillation terms (their cloud-free target is cloudy)",
    "init_from_teacher": "start the student from the trained teacher's weights (the cloud-removal head is new)",
    "distill_cloudy": "weight of cloudy pixels in the distillation term (clear pixels weigh 1; 0 = clear only)",
    "epochs": "student epochs",
    "teacher_epochs": "teacher epochs (default: half of --epochs; 0 without distillation)",
    "batch_size": "samples per optimisation step (per process under torchrun)",
    "crop": "random training crop in pixels (0 or omitted = whole samples); 160 or more gives EDC's attention "
            "stages several carrier-token windows (a 128 px crop fits in one, and its carrier tokens learn nothing)",
    "lr": "peak learning rate of AdamW (linear warm-up over 5%% of the steps, then cosine decay to 2%% of it)",
    "weight_decay": "AdamW weight decay",
    "seed": "random seed: network initialisation, sample order, crops, flips and synthetic clouds (the same seed "
            "gives the same run); also picks the --val-fraction hold-out",
    "workers": "DataLoader worker processes reading samples (0 = read in the training process)",
    "cloud_probability": "chance of synthetic clouds on a training sample without a real cloudy/clear pair",
    "max_cloud_coverage": "largest fraction of a sample that synthetic clouds cover (drawn uniformly from 0.05 to "
                          "this)",
    "w_ce": "weight of the cross-entropy term (0 = off)",
    "w_cloud": "weight of the cloud-removal L1 term (0 = off)",
    "w_distill": "weight of the feature-distillation term (0 = off, no teacher)",
    "cloudy_weight": "how much more cloudy pixels weigh in the cloud-removal loss",
    "w_reliability": "weight of the reliability term: BCE pushing the EDC fusion reliability maps low under "
                     "clouds, high on clear pixels (our addition to the paper's recipe; 0 = off)",
    "normalization": "input normalisation stored in the weights: percentile (per image and band, the 2-98 %% "
                     "percentiles scaled to 0..1, computed as at inference)",
    "device": "auto, cpu, cuda or cuda:N",
    "amp": "bfloat16 mixed precision on CUDA",
    "threads": "PyTorch CPU threads",
    "resume": "continue from <out>/checkpoint.pt (same options)",
    "max_samples": "use only the first N samples (quick trials)",
    "weights_out": "weights file to write (default <out>/model.pt)",
    "onnx": "also export <weights>.onnx",
    "half_weights": "store the weights (.pt, and the --onnx copy) as float16 (half the size)",
    "tile_size": "tile side in pixels that edc:segment uses with these weights (stored in the metadata)",
    "overlap": "overlap in pixels between those tiles (stored in the metadata)",
    "progress_bar": "show a progress bar per epoch on stderr",
    "time_limit": "minutes; past it the teacher ends early and the student stops (recorded in the metadata)",
}


def check_options(opts):
    """EDCError naming the option when a value is out of its range or does not apply to the run."""
    if not 0.05 <= opts.max_cloud_coverage <= 1.0:
        raise EDCError(f"--max-cloud-coverage {opts.max_cloud_coverage} is outside 0.05..1; give a fraction "
                       "such as 0.7.")
    low, high = SAR_WIDTH_RANGE
    if opts.sar_width is not None and not low <= opts.sar_width <= high:
        raise EDCError(f"--sar-width {opts.sar_width} is outside {low:g}..{high:g}; give the SAR stream's width as "
                       "a fraction of the optical stream's, such as 0.5 (the presets') or 1.0.")
    if opts.edc_version not in EDC_VERSIONS:
        raise EDCError(f"--edc-version {opts.edc_version} is not a network version; choose "
                       f"{', '.join(map(str, EDC_VERSIONS[:-1]))} or {EDC_VERSIONS[-1]}.")
    if opts.net_options:
        net_options(opts)
    if opts.init_from_teacher and (not opts.w_distill or opts.teacher_epochs == 0):
        raise EDCError("--init-from-teacher needs a teacher phase; give --teacher-epochs above 0 and --w-distill "
                       "above 0, or leave it out.")
    if opts.sar_width is not None and opts.architecture != "edc":
        raise EDCError(f"--sar-width applies to the EDC network only ('{opts.architecture}' has no separate "
                       "SAR stream width); leave it out.")


def phase_plan(opts):
    """[("teacher", epochs), ("student", epochs)]: no teacher without distillation or for the SAR-only network."""
    teacher_epochs = opts.epochs // 2 if opts.teacher_epochs is None else opts.teacher_epochs
    if not opts.w_distill or opts.architecture == "sar_only":
        teacher_epochs = 0
    return [("teacher", teacher_epochs), ("student", opts.epochs)]


def _top_level_items(text):
    """``text`` split at the commas outside brackets, so a value may be a JSON list (``window=[16,8]``)."""
    items, depth, start = [], 0, 0
    for i, char in enumerate(text):
        depth += {"[": 1, "]": -1}.get(char, 0)
        if char == "," and depth == 0:
            items.append(text[start:i])
            start = i + 1
    return items + [text[start:]]


def same_kind(value, default):
    """Whether a ``--net-options`` value can stand for ``default``: a flag for a flag, a number for a number, a list
    of as many numbers for a list (``window=16`` for ``[8, 8]`` is not), text for text."""
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(default, bool)
    if isinstance(default, (int, float)):
        return isinstance(value, (int, float))
    if isinstance(default, list):
        return (isinstance(value, list) and len(value) == len(default)
                and all(same_kind(v, d) for v, d in zip(value, default)))
    return type(value) is type(default)


def net_options(opts):
    """``--net-options`` as a dict (values parsed as JSON, else kept as text); EDCError naming a bad entry."""
    import json
    out = {}
    for item in filter(None, _top_level_items(opts.net_options or "")):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise EDCError(f"--net-options entry {item!r} is not key=value; give e.g. decoder=multiscale,mlp_ratio=2.")
        try:
            out[key.strip()] = json.loads(value)
        except ValueError:
            out[key.strip()] = value.strip()
    return out
