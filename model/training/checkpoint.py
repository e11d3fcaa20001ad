"""``checkpoint.pt``: everything a run needs to continue exactly where it stopped (weights, optimiser, schedule,
history, best result, teacher, random generators), written atomically after every epoch and read back by
``--resume`` only when the run's options match."""

import dataclasses
import json
import os
import random
from pathlib import Path

import numpy as np

from ..errors import EDCError
from .options import RUNTIME_ONLY


def rng_state():
    """The Python, numpy, torch (and CUDA) generators' states, as plain types for ``weights_only`` loading."""
    import torch
    state = {"python": random.getstate(), "numpy": np.random.get_state(legacy=False),
             "torch": torch.get_rng_state()}
    state["numpy"]["state"]["key"] = state["numpy"]["state"]["key"].tolist()
    state["numpy"] = json.loads(json.dumps(state["numpy"], default=float))
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state):
    import torch
    random.setstate(tuple(tuple(x) if isinstance(x, list) else x for x in state["python"]))
    numpy_state = dict(state["numpy"])
    numpy_state["state"] = dict(numpy_state["state"], key=np.array(numpy_state["state"]["key"], np.uint32))
    np.random.set_state(numpy_state)
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def seed_all(seed):
    import torch
    random.seed(seed)
    np.random.seed(seed % 2 ** 32)
    torch.manual_seed(seed)


def atomic_save(obj, path):
    """``torch.save`` to ``<path>.part``, then rename: a kill leaves the previous file or the new one, never half."""
    import torch
    tmp = Path(str(path) + ".part")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def save_checkpoint(path, opts, **state):
    """Write the run's ``state`` (phase, epoch, model, optimizer, ...) with its options and the RNG states."""
    atomic_save(dict({"options": dataclasses.asdict(opts)}, **state, rng=rng_state()), path)


def load_checkpoint(path, opts):
    """The checkpoint at ``path``; EDCError when it is missing, unreadable or was written with other options."""
    import torch
    path = Path(path)
    if not path.is_file():
        raise EDCError(f"--resume: no checkpoint in '{path.parent}'; start without --resume.")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable checkpoint gets one clear message
        raise EDCError(f"--resume: checkpoint '{path}' is unreadable ({exc}).") from None
    saved = {k: v for k, v in ckpt["options"].items() if k not in RUNTIME_ONLY}
    now = {k: v for k, v in dataclasses.asdict(opts).items() if k in saved}
    diff = [k for k in saved if saved[k] != now.get(k)]
    if diff:
        raise EDCError(f"--resume: options {', '.join(diff)} differ from the checkpointed run in '{path.parent}'; "
                       "resume with the same options or use another --out folder.")
    return ckpt
