"""The manifest of a ``segment_many`` run: a JSON file next to its outputs listing every block or pair done, with the
checksum of its file and what it was made from.  A rerun does only what is missing: an entry counts when its
signature (inputs, weights, settings, window) is the rerun's and its file still has the recorded checksum.  Files are
renamed into place only when complete and entered after that, so a half-written file is never trusted; the manifest
itself is replaced atomically (temporary file, rename) after each entry."""

import json
import os
import tempfile
from pathlib import Path

from .block import file_sha256

VERSION = 1


def file_signature(path):
    """What identifies an input file's content cheaply: its absolute path, size and modification time."""
    path = Path(str(path).split("|")[0])
    try:
        stat = path.stat()
        return [str(path.absolute()), stat.st_size, int(stat.st_mtime_ns)]
    except OSError:
        return [str(path.absolute()), None, None]


class Manifest:
    """``entries``: key -> {"file", "sha256", "signature", ...} of what is done, kept in ``path``."""

    def __init__(self, path):
        self.path = Path(path)
        self.entries = {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if data.get("version") == VERSION and isinstance(data.get("done"), dict):
                self.entries = data["done"]
        except (OSError, ValueError):
            pass  # none yet, or unreadable: everything is done again

    def is_done(self, key, signature, folder):
        """Whether ``key`` was done with ``signature`` and its file in ``folder`` is intact."""
        entry = self.entries.get(key)
        if not entry or entry.get("signature") != _plain(signature):
            return False
        path = Path(folder) / entry["file"]
        try:
            return path.is_file() and file_sha256(path) == entry["sha256"]
        except OSError:
            return False

    def add(self, key, signature, result):
        """Record ``key`` as done (``result``: what the task returned) and save the manifest."""
        self.entries[key] = {**result, "signature": _plain(signature)}
        self.save()

    def save(self):
        text = json.dumps({"version": VERSION, "done": self.entries}, indent=1, sort_keys=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".part", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text + "\n")
            os.chmod(tmp, 0o666 & ~_umask())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def _plain(value):
    """``value`` as it reads back from JSON (tuples become lists)."""
    return json.loads(json.dumps(value))


def _umask():
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
