"""Training EDC (or a baseline) on a dataset folder; ``python -m model.train`` is its command line.

Importing this package loads neither torch nor GDAL; :func:`train` does.

- ``options``: ``TrainOptions`` (every option, its default and ``--help`` text), value checks, the phase plan.
- ``cli``: the argparse command line (``build_parser``, ``main``).
- ``data``: the training / validation readers, the validation hold-out (``holdout_split``), the normalisation.
- ``samples``: ``TrainingSet``, reader samples as normalised, cropped, flipped, clouded tensors; the teacher's view.
- ``checkpoint``: random generator states, atomic ``checkpoint.pt`` writes, reading it back for ``--resume``.
- ``distributed``: the device, and the processes ``torchrun`` starts (DistributedDataParallel).
- ``loop``: ``Trainer``: phases (teacher, student), epochs, steps, validation.
- ``export``: ``log.csv`` and plots every epoch; the weights, their metadata, ONNX and ``summary.json`` at the end.

The evaluation maths lives in ``model.metrics`` and the plots in ``model.plots`` (shared with ``model.evaluate``).
"""

from .options import TrainOptions


def train(opts, progress=None, is_cancelled=None, log=None):
    """Run a training (``opts``: TrainOptions); return the summary dict (weights path, metrics).  ``progress``
    gets the percentage done, ``is_cancelled()`` stops the run after the current batch, ``log`` gets messages."""
    from .loop import Trainer
    return Trainer(opts, progress, is_cancelled, log).run()


__all__ = ["TrainOptions", "train"]
