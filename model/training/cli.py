"""The training command line: one ``--option`` per :class:`TrainOptions` field, with its help and default.

Exit status 0 with the summary (JSON) on stdout; 2 with a one-line ``error:`` message for a bad dataset or option;
130 when interrupted (the last finished epoch stays in ``checkpoint.pt``).
"""

import argparse
import dataclasses
import json
import sys

from ..errors import EDCError
from .options import HELP, TrainOptions

INT_OPTIONS = ("teacher_epochs", "max_samples", "threads", "crop", "edc_version")   # Optional[int]: None by default
FLOAT_OPTIONS = ("time_limit", "sar_width")                          # Optional[float]: None by default

DESCRIPTION = "Train EDC or a baseline on a dataset folder and export weights usable by edc:segment."


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m model.train", description=DESCRIPTION,
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    defaults = TrainOptions(data="")
    for field in dataclasses.fields(TrainOptions):
        name = "--" + field.name.replace("_", "-")
        default = getattr(defaults, field.name)
        if field.name == "data":
            parser.add_argument(name, required=True, help=HELP["data"])
        elif isinstance(default, bool):
            parser.add_argument(name, action=argparse.BooleanOptionalAction, default=default, help=HELP[field.name])
        else:
            kind = {int: int, float: float}.get(type(default), str)
            if field.name in INT_OPTIONS:
                kind = int
            if field.name in FLOAT_OPTIONS:
                kind = float
            parser.add_argument(name, type=kind, default=default, help=HELP[field.name])
    return parser


def main(argv=None):
    from . import train
    opts = TrainOptions(**vars(build_parser().parse_args(argv)))
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
