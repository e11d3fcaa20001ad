"""Train EDC or a baseline on a dataset folder and export weights usable by edc:segment.

    python -m model.train --dataset ombria --data ../shared/data/ombria --out runs/edc_ombria \
        --preset small --epochs 12 --teacher-epochs 4 --crop 192 --batch-size 8

Phases: with distillation on (``--w-distill`` > 0) a teacher (same network, cloud-free optical + SAR, no
cloud-removal head) is trained first, then the student with cross-entropy + cloud-removal loss (weighted towards cloudy
pixels) + feature distillation on clear pixels.  Every epoch writes ``checkpoint.pt`` atomically; ``--resume``
continues from it with the same result as an uninterrupted run.  Under ``torchrun`` the run uses
DistributedDataParallel.  Outputs in ``--out``: log.csv, loss.png, class_iou.png, confusion.png, model.pt
(+ model.onnx with ``--onnx``).
"""

import argparse
import csv
import dataclasses
import json
import math
import os
import random
import sys
import time
from pathlib import Path
from typing import Optional

import numpy as np

from .errors import EDCCancelled, EDCDatasetError, EDCError

PHASES = ("teacher", "student")
_ABORT_ENV = "EDC_TRAIN_ABORT_AFTER_EPOCHS"  # tests: die (like a kill) after this many epochs were checkpointed


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
    normalization: str = "percentile"  # percentile (robust per image, 2-98 %)
    device: str = "auto"
    amp: bool = True
    threads: Optional[int] = None
    resume: bool = False
    max_samples: Optional[int] = None
    weights_out: Optional[str] = None  # default <out>/model.pt
    onnx: bool = False
    half_weights: bool = False         # store the .pt weights as float16 (half the file size)
    tile_size: int = 256
    overlap: int = 32
    progress_bar: bool = True
    time_limit: Optional[float] = None  # minutes; past it the teacher phase ends early and the student stops


# ----------------------------------------------------------------------------------------------- data


class _Concat:
    """Several readers of the same kind as one."""

    def __init__(self, readers):
        self.readers = readers
        first = readers[0]
        for key in ("kind", "classes", "optical_bands", "sar_bands", "value_max"):
            setattr(self, key, getattr(first, key, None))
        self.num_classes = len(self.classes)
        self.index = [(r, i) for r in readers for i in range(len(r))]

    def __len__(self):
        return len(self.index)

    def __getitem__(self, i):
        reader, j = self.index[i]
        return reader[j]


def open_training_data(opts):
    from .datasets import open_dataset
    readers = [open_dataset(opts.dataset, opts.data, s.strip()) for s in opts.train_split.split(",") if s.strip()]
    if not readers:
        raise EDCDatasetError("No training split given; use e.g. --train-split train.")
    train = readers[0] if len(readers) == 1 else _Concat(readers)
    indices = list(range(len(train)))
    if opts.max_samples:
        indices = indices[:opts.max_samples]
    val_reader, val_indices = None, None
    if opts.val_split:
        val_reader = open_dataset(opts.dataset, opts.data, opts.val_split)
        val_indices = list(range(len(val_reader)))
        if opts.max_samples:
            val_indices = val_indices[:max(1, opts.max_samples // 4)]
    elif opts.val_fraction > 0 and len(indices) >= 10:
        indices, val_indices = holdout_split(indices, opts.seed, opts.val_fraction)
        val_reader = train
    return train, indices, val_reader, val_indices


def holdout_split(indices, seed, fraction=0.1):
    """(training indices, validation indices): the share ``fraction`` of ``indices`` that a run with ``--seed seed``
    and no --val-split holds out for validation.  ``model.evaluate --holdout-seed`` scores exactly these."""
    perm = np.random.default_rng([seed, 7]).permutation(list(indices))
    n_val = max(1, int(round(fraction * len(perm))))
    return sorted(perm[n_val:].tolist()), sorted(perm[:n_val].tolist())


def normalization_spec(opts):
    if opts.normalization != "percentile":
        raise EDCError(f"Unknown normalisation '{opts.normalization}'; use 'percentile'.")
    spec = {"method": "percentile", "low": 2.0, "high": 98.0}
    return {"optical": dict(spec), "sar": dict(spec)}


# ----------------------------------------------------------------------------------------------- helpers


def _rng_state():
    import torch
    state = {"python": random.getstate(), "numpy": np.random.get_state(legacy=False),
             "torch": torch.get_rng_state()}
    state["numpy"]["state"]["key"] = state["numpy"]["state"]["key"].tolist()
    state["numpy"] = json.loads(json.dumps(state["numpy"], default=float))  # plain types for weights_only loading
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state):
    import torch
    random.setstate(tuple(tuple(x) if isinstance(x, list) else x for x in state["python"]))
    numpy_state = dict(state["numpy"])
    numpy_state["state"] = dict(numpy_state["state"], key=np.array(numpy_state["state"]["key"], np.uint32))
    np.random.set_state(numpy_state)
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _seed_all(seed):
    import torch
    random.seed(seed)
    np.random.seed(seed % 2 ** 32)
    torch.manual_seed(seed)


def _atomic_save(obj, path):
    import torch
    tmp = Path(str(path) + ".part")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def _schedule(total_steps, warmup=0.05):
    warm = max(1, int(total_steps * warmup))

    def factor(step):
        if step < warm:
            return (step + 1) / warm
        progress = min(1.0, (step - warm) / max(1, total_steps - warm))
        return 0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * progress))
    return factor


def _resolve_device(name):
    import torch
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise EDCError("--device cuda was asked for but PyTorch sees no CUDA GPU; use --device cpu.")
    return name


class _Dist:
    """torchrun environment (WORLD_SIZE/RANK/LOCAL_RANK); a single process when absent."""

    def __init__(self, device):
        import torch
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.device = device
        if self.world > 1:
            import torch.distributed as dist
            if device.startswith("cuda"):
                torch.cuda.set_device(self.local_rank)
                self.device = f"cuda:{self.local_rank}"
            if not dist.is_initialized():
                dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")

    @property
    def main(self):
        return self.rank == 0

    def wrap(self, model):
        if self.world == 1:
            return model
        from torch.nn.parallel import DistributedDataParallel
        ids = [self.local_rank] if self.device.startswith("cuda") else None
        return DistributedDataParallel(model, device_ids=ids, find_unused_parameters=True)

    def shard(self, order):
        if self.world == 1:
            return order
        n = len(order) // self.world * self.world or len(order)
        return order[:n][self.rank::self.world]

    def barrier(self):
        if self.world > 1:
            import torch.distributed as dist
            dist.barrier()

    def all_sum(self, array):
        if self.world == 1:
            return array
        import torch
        import torch.distributed as dist
        t = torch.as_tensor(array, dtype=torch.float64, device=self.device)
        dist.all_reduce(t)
        return t.cpu().numpy()


def plot_history(rows, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.4))
    step = 0
    for phase in PHASES:
        phase_rows = [r for r in rows if r["phase"] == phase]
        if not phase_rows:
            continue
        x = np.arange(step + 1, step + len(phase_rows) + 1)
        step += len(phase_rows)
        for key, style in (("loss", "-"), ("ce", "--"), ("cloud", ":"), ("distill", "-."),
                             ("reliability", (0, (1, 3)))):
            values = [r.get(key) for r in phase_rows]
            if any(v not in (None, "") for v in values):
                ax1.plot(x, [float(v) if v not in (None, "") else np.nan for v in values], linestyle=style,
                         label=f"{phase} {key}")
        ax2.plot(x, [r["train_miou"] for r in phase_rows], "-", label=f"{phase} train mIoU")
        if any(r.get("val_miou") not in (None, "") for r in phase_rows):
            ax2.plot(x, [float(r["val_miou"]) if r.get("val_miou") not in (None, "") else np.nan
                         for r in phase_rows], "o-", label=f"{phase} val mIoU")
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("loss")
    ax1.set_yscale("log")
    ax1.legend(fontsize=7)
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("mIoU")
    ax2.set_ylim(0, 1)
    ax2.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ----------------------------------------------------------------------------------------------- training


class Trainer:
    """One training run (both phases); ``run()`` returns a summary dict."""

    CSV_FIELDS = ("phase", "epoch", "lr", "loss", "ce", "cloud", "distill", "reliability", "train_miou", "val_miou",
                  "val_oa", "val_miou_cloudy", "val_miou_clear", "seconds")

    def __init__(self, opts, progress=None, is_cancelled=None, log=None):
        import torch
        self.opts = opts
        self.progress_cb, self.is_cancelled = progress, is_cancelled or (lambda: False)
        self.log = log or (lambda msg: print(msg, file=sys.stderr))
        if opts.threads:
            torch.set_num_threads(opts.threads)
        self.dist = _Dist(_resolve_device(opts.device))
        self.device = self.dist.device
        self.amp = bool(opts.amp) and self.device.startswith("cuda")
        self.out = Path(opts.out)
        try:
            self.out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise EDCError(f"Output folder '{self.out}' cannot be created ({exc.strerror}); choose another --out "
                           "folder.") from None
        self.ckpt_path = self.out / "checkpoint.pt"

        from .datasets.training import TrainingSet
        self.reader, train_idx, val_reader, val_idx = open_training_data(opts)
        self.classes = list(self.reader.classes)
        self.num_classes = len(self.classes)
        self.norm = normalization_spec(opts)
        if not 0.05 <= opts.max_cloud_coverage <= 1.0:
            raise EDCError(f"--max-cloud-coverage {opts.max_cloud_coverage} is outside 0.05..1; give a fraction "
                           "such as 0.7.")
        self.coverage_range = (0.05, opts.max_cloud_coverage)
        from .network.config import SAR_WIDTH_RANGE
        if opts.sar_width is not None and not SAR_WIDTH_RANGE[0] <= opts.sar_width <= SAR_WIDTH_RANGE[1]:
            raise EDCError(f"--sar-width {opts.sar_width} is outside {SAR_WIDTH_RANGE[0]:g}..{SAR_WIDTH_RANGE[1]:g}; "
                           "give the SAR stream's width as a fraction of the optical stream's, such as 0.5 (the "
                           "presets') or 1.0.")
        if opts.sar_width is not None and opts.architecture != "edc":
            raise EDCError(f"--sar-width applies to the EDC network only ('{opts.architecture}' has no separate "
                           "SAR stream width); leave it out.")
        self.train_set = TrainingSet(self.reader, self.norm, train_idx, crop=opts.crop, augment=True,
                                     cloud_probability=opts.cloud_probability, seed=opts.seed,
                                     coverage_range=self.coverage_range)
        self.val_set = None if val_reader is None else TrainingSet(
            val_reader, self.norm, val_idx, cloud_probability=opts.cloud_probability, seed=opts.seed + 1,
            coverage_range=self.coverage_range)
        teacher_epochs = opts.teacher_epochs
        if teacher_epochs is None:
            teacher_epochs = opts.epochs // 2
        if not opts.w_distill or opts.architecture == "sar_only":
            teacher_epochs = 0
        self.plan = [("teacher", teacher_epochs), ("student", opts.epochs)]
        sample = self.train_set.reader[train_idx[0]] if train_idx else None
        if sample is None:
            raise EDCDatasetError(f"Dataset '{opts.data}' has no training samples left after the validation split.")
        from .network import preset_config
        self.config = preset_config(opts.preset, sample["optical"].shape[0], sample["sar"].shape[0],
                                    self.num_classes)
        if opts.sar_width is not None:
            from .network.config import sar_dims_for
            self.config["sar_dims"] = sar_dims_for(self.config, opts.sar_width)
        self.history, self.teacher, self.best, self.stopped_early = [], None, None, {}

    # -- models
    def _build(self, phase):
        from .network import build_model
        config = dict(self.config, cloud_removal=False) if phase == "teacher" else self.config
        return build_model(self.opts.architecture, config).to(self.device)

    def _state_cpu(self, model):
        return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}

    # -- checkpoints
    def _save_checkpoint(self, phase_idx, epoch, model, optimizer, scheduler):
        if not self.dist.main:
            return
        _atomic_save({"options": dataclasses.asdict(self.opts), "phase": phase_idx, "epoch": epoch,
                      "model": self._state_cpu(model), "optimizer": optimizer.state_dict(),
                      "scheduler": scheduler.state_dict(), "teacher": self.teacher_state, "best": self.best,
                      "history": self.history, "rng": _rng_state(), "config": self.config}, self.ckpt_path)

    def _load_checkpoint(self):
        import torch
        if not self.ckpt_path.is_file():
            raise EDCError(f"--resume: no checkpoint in '{self.out}'; start without --resume.")
        try:
            ckpt = torch.load(self.ckpt_path, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - any unreadable checkpoint gets one clear message
            raise EDCError(f"--resume: checkpoint '{self.ckpt_path}' is unreadable ({exc}).") from None
        runtime_only = ("resume", "progress_bar", "workers", "threads", "time_limit")
        saved = {k: v for k, v in ckpt["options"].items() if k not in runtime_only}
        now = {k: v for k, v in dataclasses.asdict(self.opts).items() if k in saved}
        diff = [k for k in saved if saved[k] != now.get(k)]
        if diff:
            raise EDCError(f"--resume: options {', '.join(diff)} differ from the checkpointed run in '{self.out}'; "
                           "resume with the same options or use another --out folder.")
        return ckpt

    # -- one epoch
    def _batch_to(self, batch):
        return {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}

    def _run_epoch(self, phase, phase_idx, epoch, model, ddp_model, teacher, optimizer, scheduler, loss_fn,
                   epoch_base, total_epochs):
        import torch
        from .evaluate import confusion, scores
        self.train_set.set_epoch(phase_idx * 100000 + epoch)
        order = np.random.default_rng([self.opts.seed, phase_idx, epoch]).permutation(len(self.train_set))
        order = self.dist.shard(order.tolist())
        loader = torch.utils.data.DataLoader(self.train_set, batch_size=self.opts.batch_size, sampler=order,
                                             num_workers=self.opts.workers, pin_memory=self.amp,
                                             drop_last=len(order) > 2 * self.opts.batch_size)
        model.train()
        conf = np.zeros((self.num_classes, self.num_classes), np.int64)
        sums, count = {}, 0
        bar = None
        if self.opts.progress_bar and self.dist.main:
            from tqdm import tqdm
            bar = tqdm(total=len(loader), desc=f"{phase} {epoch + 1}/{dict(self.plan)[phase]}", leave=False,
                       dynamic_ncols=True, file=sys.stderr)
        for step, batch in enumerate(loader):
            if self.is_cancelled():
                raise EDCCancelled("Training cancelled.")
            batch = self._batch_to(batch)
            if phase == "teacher":
                batch = dict(batch, optical=batch["teacher_optical"], cloud_mask=torch.zeros_like(batch["cloud_mask"]))
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.amp):
                teacher_features = None
                if teacher is not None:
                    with torch.no_grad():
                        teacher_features = teacher(batch["teacher_optical"], batch["sar"],
                                                   return_features=True)["features"]
                outputs = ddp_model(batch["optical"], batch["sar"],
                                    return_features=teacher is not None or bool(loss_fn.w_reliability))
                loss, parts = loss_fn(outputs, batch, teacher_features)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            optimizer.step()
            scheduler.step()
            conf += confusion(outputs["logits"].detach().argmax(1).cpu().numpy(), batch["label"].cpu().numpy(),
                              self.num_classes)
            for k, v in dict(parts, loss=float(loss.detach())).items():
                sums[k] = sums.get(k, 0.0) + v
            count += 1
            running = {k: v / count for k, v in sums.items()}
            if bar is not None:
                bar.set_postfix(loss=f"{running['loss']:.4f}", mIoU=f"{scores(conf)['miou']:.3f}")
                bar.update()
            if self.progress_cb:
                self.progress_cb(100.0 * (epoch_base + (step + 1) / max(1, len(loader))) / max(1, total_epochs))
        if bar is not None:
            bar.close()
        keys = ("loss", "ce", "cloud", "distill", "reliability")
        totals = self.dist.all_sum(np.array([sums.get(k, 0.0) for k in keys] + [count]))
        conf = self.dist.all_sum(conf).astype(np.int64)
        n = max(1.0, totals[-1])
        row = {"phase": phase, "epoch": epoch + 1, "lr": scheduler.get_last_lr()[0],
               "train_miou": scores(conf)["miou"]}
        for i, k in enumerate(keys):
            row[k] = float(totals[i] / n) if k in sums else ""
        return row

    def _validate(self, model, phase):
        from .evaluate import evaluate_model
        if self.val_set is None or not self.dist.main:
            return None
        data = self.val_set
        if phase == "teacher":
            data = _TeacherView(self.val_set)
        names = [c[0] for c in self.classes]
        with _autocast(self.amp):
            return evaluate_model(model, data, self.num_classes, names, self.device, self.opts.batch_size)

    def _write_logs(self, result):
        if not self.dist.main:
            return
        with open(self.out / "log.csv", "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=self.CSV_FIELDS, extrasaction="ignore")
            writer.writeheader()
            for r in self.history:
                writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})
        plot_history(self.history, self.out / "loss.png")
        if result is not None:
            from .evaluate import plot_class_iou, plot_confusion
            names = [c[0] for c in self.classes]
            plot_class_iou(result, self.out / "class_iou.png", "Per-class IoU (validation)")
            plot_confusion(result["confusion"]["all"], names, self.out / "confusion.png",
                           "Confusion matrix (validation)")

    # -- main loop
    def run(self):
        import torch
        from .losses import EDCLoss
        start_phase, start_epoch, ckpt = 0, 0, None
        self.teacher_state = None
        if self.opts.resume:
            ckpt = self._load_checkpoint()
            self.history, self.best, self.teacher_state = ckpt["history"], ckpt["best"], ckpt["teacher"]
            start_phase, start_epoch = ckpt["phase"], ckpt["epoch"]
            if start_epoch >= dict(self.plan)[PHASES[start_phase]]:
                start_phase, start_epoch = start_phase + 1, 0
            self.log(f"Resuming at {PHASES[min(start_phase, 1)]} epoch {start_epoch + 1}.")
        total_epochs = sum(n for _, n in self.plan)
        started = time.time()
        abort_after = int(os.environ.get(_ABORT_ENV, "0") or 0)
        model = None
        for phase_idx, (phase, n_epochs) in enumerate(self.plan):
            if phase_idx < start_phase or n_epochs == 0:
                continue
            _seed_all(self.opts.seed + 1000 * phase_idx)
            model = self._build(phase)
            teacher = None
            if phase == "student" and self.teacher_state is not None:
                teacher = self._build("teacher")
                teacher.load_state_dict(self.teacher_state)
                teacher.eval().requires_grad_(False)
            loss_fn = EDCLoss(ce=self.opts.w_ce, cloud=0.0, distill=0.0) if phase == "teacher" else \
                EDCLoss(self.opts.w_ce, self.opts.w_cloud, self.opts.w_distill if teacher is not None else 0.0,
                        self.opts.cloudy_weight, reliability=self.opts.w_reliability)
            optimizer = torch.optim.AdamW(model.parameters(), lr=self.opts.lr, weight_decay=self.opts.weight_decay)
            steps = max(1, len(self.dist.shard(list(range(len(self.train_set))))) // self.opts.batch_size)
            scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _schedule(steps * n_epochs))
            first = 0
            if ckpt is not None and phase_idx == start_phase and start_epoch > 0:
                model.load_state_dict(ckpt["model"])
                optimizer.load_state_dict(ckpt["optimizer"])
                scheduler.load_state_dict(ckpt["scheduler"])
                _set_rng_state(ckpt["rng"])
                first = start_epoch
            ddp_model = self.dist.wrap(model)
            epoch_base = sum(n for _, n in self.plan[:phase_idx])
            for epoch in range(first, n_epochs):
                t0 = time.time()
                row = self._run_epoch(phase, phase_idx, epoch, model, ddp_model, teacher, optimizer, scheduler,
                                      loss_fn, epoch_base + epoch, total_epochs)
                result = self._validate(model, phase)
                if result is not None:
                    row.update(val_miou=result["all"]["miou"], val_oa=result["all"]["oa"],
                               val_miou_cloudy=result["cloudy"]["miou"], val_miou_clear=result["clear"]["miou"])
                    if phase == "student" and (self.best is None or result["all"]["miou"] > self.best["miou"]):
                        self.best = {"miou": result["all"]["miou"], "epoch": epoch + 1, "result": result,
                                     "state": self._state_cpu(model)}
                row["seconds"] = round(time.time() - t0, 1)
                self.history.append(row)
                if self.dist.main:
                    self.log(" ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}"
                                      for k, v in row.items() if v != ""))
                if phase == "teacher" and epoch + 1 == n_epochs:
                    self.teacher_state = self._state_cpu(model)
                self._write_logs(result)
                self._save_checkpoint(phase_idx, epoch + 1, model, optimizer, scheduler)
                self.dist.barrier()
                if abort_after and len(self.history) >= abort_after:
                    self.log(f"{_ABORT_ENV}: stopping abruptly after {abort_after} epoch(s).")
                    os._exit(3)
                budget = None if not self.opts.time_limit else \
                    60 * self.opts.time_limit * (epoch_base + n_epochs) / total_epochs
                if budget and time.time() - started > budget and epoch + 1 < n_epochs:
                    self.log(f"Time limit of {self.opts.time_limit} min reached: {phase} stops after epoch "
                             f"{epoch + 1} of {n_epochs}.")
                    self.stopped_early[phase] = epoch + 1
                    if phase == "teacher":
                        self.teacher_state = self._state_cpu(model)
                    break
        if model is None:
            model = self._build("student")
            model.load_state_dict(ckpt["model"])
        return self._export(model)

    def _export(self, model):
        from .metadata import make_metadata
        from .weights import export_onnx, save_weights
        if not self.dist.main:
            return None
        final = None
        if self.best is not None:
            model.load_state_dict(self.best["state"])
            final = self.best["result"]
        model.eval().cpu()
        metrics = {}
        if final is not None:
            metrics = {f"validation_{k}": {"miou": final[k]["miou"], "oa": final[k]["oa"], "iou": final[k]["iou"]}
                       for k in ("all", "cloudy", "clear")}
        opts = self.opts
        training = {"dataset": getattr(self.reader, "kind", opts.dataset), "data": Path(opts.data).name,
                    "train_split": opts.train_split, "samples": len(self.train_set),
                    "validation": (opts.val_split or f"{opts.val_fraction:.0%} of training samples")
                    if self.val_set is not None else "none",
                    "epochs": opts.epochs, "teacher_epochs": dict(self.plan)["teacher"], "crop": opts.crop,
                    "batch_size": opts.batch_size, "lr": opts.lr, "seed": opts.seed,
                    "loss_weights": {"ce": opts.w_ce, "cloud": opts.w_cloud, "distill": opts.w_distill,
                                     "reliability": opts.w_reliability, "cloudy_weight": opts.cloudy_weight},
                    "synthetic_cloud_probability": opts.cloud_probability,
                    "synthetic_cloud_coverage": list(self.coverage_range), "best_epoch":
                        self.best["epoch"] if self.best else None,
                    "date": time.strftime("%Y-%m-%d")}
        if self.stopped_early:
            training["stopped_early_by_time_limit"] = self.stopped_early
        meta = make_metadata(opts.architecture, self.config, self.classes, self.reader.optical_bands,
                             self.reader.sar_bands, normalization=self.norm, tile_size=opts.tile_size,
                             overlap=opts.overlap, trained=True, training=training, metrics=metrics)
        path = Path(opts.weights_out or self.out / "model.pt")
        if opts.half_weights:
            import copy
            save_weights(copy.deepcopy(model).half(), meta, path)
        else:
            save_weights(model, meta, path)
        summary = {"weights": str(path), "metrics": metrics, "epochs_run": len(self.history)}
        if opts.onnx:
            summary["onnx"] = str(export_onnx(model, meta, path.with_suffix(".onnx")))
        with open(self.out / "summary.json", "w") as fh:
            json.dump(summary, fh, indent=1)
        self.log(f"Weights written to {path}")
        return summary


class _TeacherView:
    """Validation data as the teacher sees it: the cloud-free optical image, no clouds."""

    def __init__(self, data):
        self.data = data

    def __len__(self):
        return len(self.data)

    def __getitem__(self, i):
        import torch
        item = self.data[i]
        return dict(item, optical=item["teacher_optical"], cloud_mask=torch.zeros_like(item["cloud_mask"]))


class _autocast:
    def __init__(self, enabled):
        self.enabled = enabled

    def __enter__(self):
        import torch
        self.ctx = torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.enabled)
        return self.ctx.__enter__()

    def __exit__(self, *exc):
        return self.ctx.__exit__(*exc)


def train(opts, progress=None, is_cancelled=None, log=None):
    """Run a training (``opts``: TrainOptions); return the summary dict (weights path, metrics)."""
    return Trainer(opts, progress, is_cancelled, log).run()


# ----------------------------------------------------------------------------------------------- CLI


HELP = {
    "dataset": "ombria, m3m_cr, whu_opt_sar, generic or auto (guess from the folder layout)",
    "out": "work folder: checkpoint.pt, log.csv, plots, model.pt",
    "train_split": "split folder(s) to train on, comma-separated (e.g. train or train,test)",
    "val_split": "split to validate on (default: hold out --val-fraction of the training samples)",
    "val_fraction": "share of the training samples held out for validation when no --val-split",
    "architecture": "edc, dense_tristream, optical_only, sar_only or early_concat",
    "preset": "model size: tiny, small or base",
    "sar_width": "EDC only: width of the SAR stream as a fraction of the optical stream's (default: the preset's "
                 "0.5; 1.0 = as wide)",
    "epochs": "student epochs",
    "teacher_epochs": "teacher epochs (default: half of --epochs; 0 without distillation)",
    "crop": "random training crop in pixels (0 or omitted = whole samples); 160 or more gives EDC's attention "
            "stages several carrier-token windows (a 128 px crop fits in one, and its carrier tokens learn nothing)",
    "cloud_probability": "chance of synthetic clouds on a training sample without a real cloudy/clear pair",
    "max_cloud_coverage": "largest fraction of a sample that synthetic clouds cover (drawn uniformly from 0.05 to "
                          "this)",
    "w_ce": "weight of the cross-entropy term (0 = off)",
    "w_cloud": "weight of the cloud-removal L1 term (0 = off)",
    "w_distill": "weight of the feature-distillation term (0 = off, no teacher)",
    "cloudy_weight": "how much more cloudy pixels weigh in the cloud-removal loss",
    "w_reliability": "weight of the reliability term: BCE pushing the EDC fusion reliability maps low under "
                     "clouds, high on clear pixels (our addition to the paper's recipe; 0 = off)",
    "device": "auto, cpu, cuda or cuda:N",
    "amp": "bfloat16 mixed precision on CUDA",
    "threads": "PyTorch CPU threads",
    "resume": "continue from <out>/checkpoint.pt (same options)",
    "max_samples": "use only the first N samples (quick trials)",
    "weights_out": "weights file to write (default <out>/model.pt)",
    "onnx": "also export <weights>.onnx",
    "half_weights": "store the .pt weights as float16 (half the size)",
    "time_limit": "minutes; past it the teacher ends early and the student stops (recorded in the metadata)",
}


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m model.train", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    defaults = TrainOptions(data="")
    for field in dataclasses.fields(TrainOptions):
        name = "--" + field.name.replace("_", "-")
        default = getattr(defaults, field.name)
        if field.name == "data":
            parser.add_argument(name, required=True, help="dataset folder")
        elif isinstance(default, bool):
            parser.add_argument(name, action=argparse.BooleanOptionalAction, default=default,
                                help=HELP.get(field.name))
        else:
            kind = {int: int, float: float}.get(type(default), str)
            if field.name in ("teacher_epochs", "max_samples", "threads", "crop"):
                kind = int
            if field.name in ("time_limit", "sar_width"):
                kind = float
            parser.add_argument(name, type=kind, default=default, help=HELP.get(field.name, " "))
    return parser


def main(argv=None):
    args = vars(build_parser().parse_args(argv))
    opts = TrainOptions(**args)
    try:
        summary = train(opts)
    except EDCError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; continue with --resume", file=sys.stderr)
        return 130
    if summary:
        print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
