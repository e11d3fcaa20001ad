"""Hostile weights files: pickles whose loading would run code (``os.mkdir(marker)``: a folder appears if it ran)."""

import os
import pickle

KINDS = ["whole_blob", "in_metadata", "in_state_dict", "legacy_format", "raw_pickle"]


class Payload:
    """Unpickling this runs ``os.mkdir(marker)``: the proof that code from the file was executed."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.mkdir, (self.marker,)


def hostile_weights(kind, folder, good_weights):
    """(path, marker): a copy of ``good_weights`` (.pt) with a :class:`Payload` hidden as ``kind`` says (one of
    KINDS); ``marker`` is the folder that running it would create."""
    import torch

    folder.mkdir(parents=True, exist_ok=True)
    marker = folder / "PWNED"
    good = torch.load(good_weights, map_location="cpu", weights_only=True)
    path = folder / f"{kind}.pt"
    if kind == "whole_blob":
        torch.save(Payload(marker), path)
    elif kind == "in_metadata":
        torch.save({"metadata_json": Payload(marker), "state_dict": good["state_dict"]}, path)
    elif kind == "in_state_dict":
        torch.save({"metadata_json": good["metadata_json"], "state_dict": dict(good["state_dict"], x=Payload(marker))},
                   path)
    elif kind == "legacy_format":
        torch.save(dict(good, extra=Payload(marker)), path, _use_new_zipfile_serialization=False)
    elif kind == "raw_pickle":
        path.write_bytes(pickle.dumps(dict(good, extra=Payload(marker))))
    return path, marker
