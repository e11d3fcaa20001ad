"""One training run: the teacher phase, then the student phase, epoch by epoch, each epoch validated, logged and
checkpointed.  ``Trainer(opts).run()`` returns the summary of the exported weights.

Randomness: every phase starts from ``seed + 1000 * phase``; each epoch's sample order comes from (seed, phase,
epoch) and each sample's crop, flips and clouds from (seed, epoch, index), so a run resumed from a checkpoint (which
also holds the generators' states) continues exactly as the uninterrupted run.
"""

import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import EDCCancelled, EDCDatasetError, EDCError
from ..metrics import confusion, evaluate_model, scores
from .checkpoint import load_checkpoint, save_checkpoint, seed_all, set_rng_state
from .data import normalization_spec, open_training_data, validate_dataset
from .distributed import Distributed, resolve_device
from .export import export_weights, write_logs
from .options import PHASES, check_options, phase_plan

LOSS_KEYS = ("loss", "ce", "cloud", "distill", "reliability")


def lr_schedule(total_steps, warmup=0.05):
    """Learning-rate factor per step: linear warm-up over ``warmup`` of the steps, then cosine decay to 0.02."""
    warm = max(1, int(total_steps * warmup))

    def factor(step):
        if step < warm:
            return (step + 1) / warm
        progress = min(1.0, (step - warm) / max(1, total_steps - warm))
        return 0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * progress))
    return factor


def autocast(enabled):
    """bfloat16 mixed precision on CUDA when ``enabled`` (training steps and validation alike)."""
    import torch
    return torch.autocast("cuda", dtype=torch.bfloat16, enabled=enabled)


@dataclass
class Phase:
    """What one phase trains with."""
    name: str
    index: int
    epochs: int
    model: object
    ddp_model: object
    teacher: object
    optimizer: object
    scheduler: object
    loss_fn: object


class Trainer:
    """One training run (both phases); ``run()`` returns a summary dict."""

    def __init__(self, opts, progress=None, is_cancelled=None, log=None):
        import torch
        self.opts = opts
        self.progress_cb, self.is_cancelled = progress, is_cancelled or (lambda: False)
        self.log = log or (lambda msg: print(msg, file=sys.stderr))
        if opts.threads:
            torch.set_num_threads(opts.threads)
        self.dist = Distributed(resolve_device(opts.device))
        self.device = self.dist.device
        self.amp = bool(opts.amp) and self.device.startswith("cuda")
        self.out = Path(opts.out)
        try:
            self.out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise EDCError(f"Output folder '{self.out}' cannot be created ({exc.strerror}); choose another --out "
                           "folder.") from None
        self.ckpt_path = self.out / "checkpoint.pt"
        sample = self._open_data()
        self.plan = phase_plan(opts)
        self.config = self._network_config(sample)
        if opts.sar_width is not None:
            from ..network.config import sar_dims_for
            self.config["sar_dims"] = sar_dims_for(self.config, opts.sar_width)
        self.history, self.best, self.stopped_early, self.teacher_state = [], None, {}, None

    def _network_config(self, sample):
        """The preset's config for the data's band counts and classes, the EDC version and ``--net-options``;
        EDCError naming an unknown key or a bad value of ``--net-options``."""
        from ..network import preset_config
        from ..network.config import full_config
        from .options import net_options, same_kind
        opts = self.opts
        version = opts.edc_version if opts.architecture == "edc" else 1
        config = preset_config(opts.preset, sample["optical"].shape[0], sample["sar"].shape[0], self.num_classes,
                               version=version)
        overrides = net_options(opts)
        unknown = sorted(set(overrides) - set(full_config(config)))
        if unknown:
            raise EDCError(f"--net-options: unknown network option(s) {', '.join(unknown)}; the keys are those of "
                           "model/network/config.py (e.g. decoder, stage4, mlp_ratio).")
        defaults = full_config(config)
        for key, value in overrides.items():
            if not same_kind(value, defaults[key]):
                raise EDCError(f"--net-options: {key}={json.dumps(value)} is not of the kind of its default "
                               f"{json.dumps(defaults[key])}; give e.g. {key}={json.dumps(defaults[key])}.")
        config.update(overrides)
        try:
            full_config(config)
        except ValueError as exc:
            raise EDCError(f"--net-options: {exc}.") from None
        return config

    def _open_data(self):
        """Open the readers and the training / validation sets; return the first training sample."""
        from .samples import TrainingSet
        opts = self.opts
        self.reader, train_idx, val_reader, val_idx = open_training_data(opts)
        self.classes = list(self.reader.classes)
        self.class_names = [c[0] for c in self.classes]
        self.num_classes = len(self.classes)
        self.norm = normalization_spec(opts)
        check_options(opts)
        self.coverage_range = (0.05, opts.max_cloud_coverage)
        self.train_set = TrainingSet(self.reader, self.norm, train_idx, crop=opts.crop, augment=True,
                                     cloud_probability=opts.cloud_probability, seed=opts.seed,
                                     coverage_range=self.coverage_range, soft_reliability=opts.soft_reliability,
                                     ignore_real_clouds=opts.ignore_real_clouds)
        self.val_set = None if val_reader is None else TrainingSet(
            val_reader, self.norm, val_idx, cloud_probability=opts.cloud_probability, seed=opts.seed + 1,
            coverage_range=self.coverage_range)
        if not train_idx:
            raise EDCDatasetError(f"Dataset '{opts.data}' has no training samples left after the validation split.")
        # every sample once, now: a bad label, class list or coverage fails before the first epoch, naming the file
        main_log = self.log if self.dist.main else None
        if val_reader is self.reader:
            validate_dataset(self.reader, sorted(train_idx + val_idx), main_log)
        else:
            validate_dataset(self.reader, train_idx, main_log)
            if val_reader is not None:
                validate_dataset(val_reader, val_idx, main_log, what="validation")
        return self.reader[train_idx[0]]

    # -- models
    def _build(self, phase):
        from ..network import build_model
        config = dict(self.config, cloud_removal=False) if phase == "teacher" else self.config
        return build_model(self.opts.architecture, config).to(self.device)

    @staticmethod
    def _state_cpu(model):
        return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}

    def _start_phase(self, index, name, epochs, ckpt):
        """Seed, build the network (and the frozen teacher), the loss, optimiser and schedule of a phase; restore
        them from ``ckpt`` when the run resumes inside this phase.  The order of the steps fixes the random
        numbers each one draws: keep it."""
        import torch
        from ..losses import EDCLoss
        opts = self.opts
        seed_all(opts.seed + 1000 * index)
        model, teacher = self._build(name), None
        if name == "student" and self.teacher_state is not None:
            teacher = self._build("teacher")
            teacher.load_state_dict(self.teacher_state)
            teacher.eval().requires_grad_(False)
            if opts.init_from_teacher:  # every teacher tensor; the cloud-removal head starts fresh
                missing, unexpected = model.load_state_dict(self.teacher_state, strict=False)
                if unexpected or any(not k.startswith("cloud_removal.") for k in missing):
                    raise EDCError("--init-from-teacher: the teacher and student networks differ "
                                   f"({', '.join((unexpected + missing)[:3])}).")
        loss_fn = EDCLoss(ce=opts.w_ce, cloud=0.0, distill=0.0) if name == "teacher" else \
            EDCLoss(opts.w_ce, opts.w_cloud, opts.w_distill if teacher is not None else 0.0, opts.cloudy_weight,
                    reliability=opts.w_reliability, distill_cloudy=opts.distill_cloudy)
        optimizer = torch.optim.AdamW(model.parameters(), lr=opts.lr, weight_decay=opts.weight_decay)
        steps = max(1, len(self.dist.shard(list(range(len(self.train_set))))) // opts.batch_size)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_schedule(steps * epochs))
        if ckpt is not None:
            model.load_state_dict(ckpt["model"])
            optimizer.load_state_dict(ckpt["optimizer"])
            scheduler.load_state_dict(ckpt["scheduler"])
            set_rng_state(ckpt["rng"])
        return Phase(name, index, epochs, model, self.dist.wrap(model), teacher, optimizer, scheduler, loss_fn)

    # -- one epoch
    def _step(self, phase, batch):
        """One optimisation step on ``batch``; returns (outputs, loss, loss terms)."""
        import torch
        with autocast(self.amp):
            teacher_features = None
            if phase.teacher is not None:
                with torch.no_grad():
                    teacher_features = phase.teacher(batch["teacher_optical"], batch["sar"],
                                                     return_features=True)["features"]
            outputs = phase.ddp_model(batch["optical"], batch["sar"],
                                      return_features=phase.teacher is not None or bool(phase.loss_fn.w_reliability))
            loss, parts = phase.loss_fn(outputs, batch, teacher_features)
        phase.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(phase.model.parameters(), 5.0)
        phase.optimizer.step()
        phase.scheduler.step()
        return outputs, loss, parts

    def _loader(self, phase, epoch):
        import torch
        self.train_set.set_epoch(phase.index * 100000 + epoch)
        order = np.random.default_rng([self.opts.seed, phase.index, epoch]).permutation(len(self.train_set))
        order = self.dist.shard(order.tolist())
        return torch.utils.data.DataLoader(self.train_set, batch_size=self.opts.batch_size, sampler=order,
                                           num_workers=self.opts.workers, pin_memory=self.amp,
                                           drop_last=len(order) > 2 * self.opts.batch_size)

    def _run_epoch(self, phase, epoch, done_before, total_epochs):
        """Train one epoch; return its log row (mean loss terms over all ranks, train mIoU)."""
        from .samples import teacher_view
        loader = self._loader(phase, epoch)
        phase.model.train()
        conf = np.zeros((self.num_classes, self.num_classes), np.int64)
        sums, count = {}, 0
        bar = None
        if self.opts.progress_bar and self.dist.main:
            from tqdm import tqdm
            bar = tqdm(total=len(loader), desc=f"{phase.name} {epoch + 1}/{phase.epochs}", leave=False,
                       dynamic_ncols=True, file=sys.stderr)
        for step, batch in enumerate(loader):
            if self.is_cancelled():
                raise EDCCancelled("Training cancelled.")
            batch = {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}
            if phase.name == "teacher":
                batch = teacher_view(batch)
            outputs, loss, parts = self._step(phase, batch)
            conf += confusion(outputs["logits"].detach().argmax(1).cpu().numpy(), batch["label"].cpu().numpy(),
                              self.num_classes)
            for k, v in dict(parts, loss=float(loss.detach())).items():
                sums[k] = sums.get(k, 0.0) + v
            count += 1
            if bar is not None:
                bar.set_postfix(loss=f"{sums['loss'] / count:.4f}", mIoU=f"{scores(conf)['miou']:.3f}")
                bar.update()
            if self.progress_cb:
                self.progress_cb(100.0 * (done_before + (step + 1) / max(1, len(loader))) / max(1, total_epochs))
        if bar is not None:
            bar.close()
        totals = self.dist.all_sum(np.array([sums.get(k, 0.0) for k in LOSS_KEYS] + [count]))
        conf = self.dist.all_sum(conf).astype(np.int64)
        n = max(1.0, totals[-1])
        row = {"phase": phase.name, "epoch": epoch + 1, "lr": phase.scheduler.get_last_lr()[0],
               "train_miou": scores(conf)["miou"]}
        for i, k in enumerate(LOSS_KEYS):
            row[k] = float(totals[i] / n) if k in sums else ""
        return row

    def _validate(self, phase):
        from .samples import TeacherSet
        if self.val_set is None or not self.dist.main:
            return None
        data = TeacherSet(self.val_set) if phase.name == "teacher" else self.val_set
        with autocast(self.amp):
            return evaluate_model(phase.model, data, self.num_classes, self.class_names, self.device,
                                  self.opts.batch_size)

    def _record(self, phase, epoch, row, result, t0):
        """Log the epoch, keep the best validated student, write the logs and the checkpoint."""
        if result is not None:
            row.update(val_miou=result["all"]["miou"], val_oa=result["all"]["oa"],
                       val_miou_cloudy=result["cloudy"]["miou"], val_miou_clear=result["clear"]["miou"])
            if phase.name == "student" and (self.best is None or result["all"]["miou"] > self.best["miou"]):
                self.best = {"miou": result["all"]["miou"], "epoch": epoch + 1, "result": result,
                             "state": self._state_cpu(phase.model)}
        row["seconds"] = round(time.time() - t0, 1)
        self.history.append(row)
        if phase.name == "teacher" and epoch + 1 == phase.epochs:
            self.teacher_state = self._state_cpu(phase.model)
        if self.dist.main:
            self.log(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                              for k, v in row.items() if v != ""))
            write_logs(self.out, self.history, result, self.class_names)
            save_checkpoint(self.ckpt_path, self.opts, phase=phase.index, epoch=epoch + 1,
                            model=self._state_cpu(phase.model), optimizer=phase.optimizer.state_dict(),
                            scheduler=phase.scheduler.state_dict(), teacher=self.teacher_state, best=self.best,
                            history=self.history, config=self.config)
        self.dist.barrier()

    def _resume(self):
        """(checkpoint, phase index, epoch) to continue from: --resume, or a fresh start."""
        if not self.opts.resume:
            return None, 0, 0
        ckpt = load_checkpoint(self.ckpt_path, self.opts)
        self.history, self.best, self.teacher_state = ckpt["history"], ckpt["best"], ckpt["teacher"]
        start_phase, start_epoch = ckpt["phase"], ckpt["epoch"]
        if start_epoch >= dict(self.plan)[PHASES[start_phase]]:
            start_phase, start_epoch = start_phase + 1, 0
        self.log(f"Resuming at {PHASES[min(start_phase, 1)]} epoch {start_epoch + 1}.")
        return ckpt, start_phase, start_epoch

    def _out_of_time(self, started, phase, epoch, done_after, total_epochs):
        """True (and logged, recorded) when --time-limit ends ``phase`` after ``epoch``: each phase may use the
        share of the limit its epochs have."""
        if not self.opts.time_limit or epoch + 1 >= phase.epochs:
            return False
        if time.time() - started <= 60 * self.opts.time_limit * done_after / total_epochs:
            return False
        self.log(f"Time limit of {self.opts.time_limit} min reached: {phase.name} stops after epoch "
                 f"{epoch + 1} of {phase.epochs}.")
        self.stopped_early[phase.name] = epoch + 1
        if phase.name == "teacher":
            self.teacher_state = self._state_cpu(phase.model)
        return True

    # -- main loop
    def run(self):
        ckpt, start_phase, start_epoch = self._resume()
        total_epochs = sum(n for _, n in self.plan)
        started = time.time()
        phase = None
        for index, (name, epochs) in enumerate(self.plan):
            if index < start_phase or epochs == 0:
                continue
            resume_here = ckpt is not None and index == start_phase and start_epoch > 0
            phase = self._start_phase(index, name, epochs, ckpt if resume_here else None)
            done_before = sum(n for _, n in self.plan[:index])
            for epoch in range(start_epoch if resume_here else 0, epochs):
                t0 = time.time()
                row = self._run_epoch(phase, epoch, done_before + epoch, total_epochs)
                self._record(phase, epoch, row, self._validate(phase), t0)
                if self._out_of_time(started, phase, epoch, done_before + epochs, total_epochs):
                    break
        if phase is None:          # resumed after the last epoch: export the checkpointed student
            model = self._build("student")
            model.load_state_dict(ckpt["model"])
        else:
            model = phase.model
        return export_weights(self, model) if self.dist.main else None

