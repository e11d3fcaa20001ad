"""The pip command that installs EDC's packages for QGIS, and pip's output read as progress steps."""

import re

STEPS = (  # (start of a pip output line, what the user is told, progress in %; None = counted, see PipProgress)
    ("Collecting ", "Finding packages", None),
    ("Downloading ", "Downloading", None),
    ("Processing ", "Finding packages", None),
    ("Installing collected packages", "Installing", 90),
    ("Successfully installed", "Installed", 100),
)


def pip_command(python, target, requirements, constraints_file):
    """argv (no shell) for ``python -m pip install`` of ``requirements`` into the folder ``target`` with the
    constraints in ``constraints_file``: no progress bars (the output goes to a log), no warning that scripts land
    outside ``PATH``."""
    return [python, "-m", "pip", "install", "--target", str(target), "--upgrade", "--progress-bar", "off",
            "--no-warn-script-location", "--disable-pip-version-check", "-c", str(constraints_file),
            *requirements]


class PipProgress:
    """``feed(line)`` -> (percent, step) for a pip output line that moves the progress on, else None.  pip does not
    say how many packages it will fetch, so each package found or downloaded takes a share of what is left below
    85 %; installing is 90 % and success 100 %."""

    def __init__(self):
        self.percent = 0.0

    def feed(self, line):
        text = line.strip()
        for start, step, percent in STEPS:
            if text.startswith(start):
                self.percent = float(percent) if percent is not None else self.percent + (85 - self.percent) * 0.15
                return round(self.percent, 1), f"{step}: {_subject(text, start)}".rstrip(": ")
        return None


def _subject(text, start):
    rest = text[len(start):].lstrip(": ")
    return re.sub(r"\s+", " ", rest)[:120]


def last_error(lines):
    """The line of pip's output that says why it failed (the last 'ERROR:' line), or its last non-empty line."""
    errors = [line.strip() for line in lines if line.strip().startswith("ERROR:")]
    if errors:
        return errors[-1]
    rest = [line.strip() for line in lines if line.strip()]
    return rest[-1] if rest else "pip printed nothing"
