"""Train EDC or a baseline on a dataset folder and export weights usable by edc:segment.

    python -m model.train --dataset ombria --data ../shared/data/ombria --out runs/edc_ombria \
        --preset small --epochs 12 --teacher-epochs 4 --crop 192 --batch-size 8

Phases: with distillation on (``--w-distill`` > 0) a teacher (same network, cloud-free optical + SAR, no
cloud-removal head) is trained first, then the student with cross-entropy + cloud-removal loss (weighted towards cloudy
pixels) + feature distillation on clear pixels.  Every epoch writes ``checkpoint.pt`` atomically; ``--resume``
continues from it with the same result as an uninterrupted run.  Under ``torchrun`` the run uses
DistributedDataParallel.  Outputs in ``--out``: log.csv, loss.png, class_iou.png, confusion.png, model.pt
(+ model.onnx with ``--onnx``), summary.json.

The code is in ``model.training``; this module is the command's entry point.
"""

import sys

from .training import TrainOptions, train
from .training.cli import build_parser, main

__all__ = ["TrainOptions", "build_parser", "main", "train"]

if __name__ == "__main__":
    sys.exit(main())
