"""The PNG plots of training runs and evaluations (matplotlib, Agg backend, imported when a plot is drawn).

- ``plot_history``: loss terms and mIoU per epoch of a training run (``loss.png``).
- ``plot_confusion`` / ``plot_class_iou``: a validation or evaluation result (``confusion.png``, ``class_iou.png``).
- ``plot_iou_vs_cloud`` / ``plot_seed_summary``: benchmarks against synthetic cloud cover.
"""

import numpy as np

from .metrics import SUBSETS, focus

LOSS_STYLES = (("loss", "-"), ("ce", "--"), ("cloud", ":"), ("distill", "-."), ("reliability", (0, (1, 3))))


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _save(fig, path, dpi=110):
    import matplotlib.pyplot as plt
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)


def _floats(values):
    return [float(v) if v not in (None, "") else np.nan for v in values]


def _cloud_cover(setting):
    """The synthetic cloud cover (%) of a benchmark setting named like 'synthetic 50%'."""
    return float(setting.split()[1].rstrip("%"))


def plot_history(rows, path):
    """Loss terms (log scale) and train / validation mIoU per epoch; the phases one after the other."""
    plt = _pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.4))
    step = 0
    for phase in dict.fromkeys(r["phase"] for r in rows):       # in run order: teacher, then student
        phase_rows = [r for r in rows if r["phase"] == phase]
        x = np.arange(step + 1, step + len(phase_rows) + 1)
        step += len(phase_rows)
        for key, style in LOSS_STYLES:
            values = [r.get(key) for r in phase_rows]
            if any(v not in (None, "") for v in values):
                ax1.plot(x, _floats(values), linestyle=style, label=f"{phase} {key}")
        ax2.plot(x, [r["train_miou"] for r in phase_rows], "-", label=f"{phase} train mIoU")
        if any(r.get("val_miou") not in (None, "") for r in phase_rows):
            ax2.plot(x, _floats(r.get("val_miou") for r in phase_rows), "o-", label=f"{phase} val mIoU")
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("loss")
    ax1.set_yscale("log")
    ax1.legend(fontsize=7)
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("mIoU")
    ax2.set_ylim(0, 1)
    ax2.legend(fontsize=7)
    _save(fig, path)


def plot_confusion(conf, class_names, path, title="Confusion matrix"):
    plt = _pyplot()
    conf = np.asarray(conf, np.float64)
    norm = conf / np.maximum(conf.sum(1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(1.2 + 0.7 * len(class_names), 1 + 0.6 * len(class_names)))
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(class_names)), class_names, rotation=45, ha="right")
    ax.set_yticks(range(len(class_names)), class_names)
    for i in range(len(class_names)):
        for j in range(len(class_names)):
            ax.text(j, i, f"{norm[i, j]:.2f}", ha="center", va="center", fontsize=8,
                    color="white" if norm[i, j] > 0.5 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.colorbar(im, ax=ax, fraction=0.046)
    _save(fig, path)


def plot_class_iou(result, path, title="Per-class IoU"):
    plt = _pyplot()
    names = list(result["all"]["iou"])
    fig, ax = plt.subplots(figsize=(2 + 0.9 * len(names), 3.2))
    width = 0.27
    for k, subset in enumerate(SUBSETS):
        values = [result[subset]["iou"][n] or 0.0 for n in names]
        ax.bar(np.arange(len(names)) + (k - 1) * width, values, width, label=f"{subset} pixels")
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
    ax.set_ylim(0, 1)
    ax.set_ylabel("IoU")
    ax.set_title(title)
    ax.legend(fontsize=8)
    _save(fig, path)


def plot_iou_vs_cloud(result, path, focus_class=None):
    """A benchmark result: IoU (or mIoU) of every model against the synthetic cloud cover."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for name, rows in result["models"].items():
        synth = [(_cloud_cover(s), rows[s]["all"]) for s in rows if s.startswith("synthetic")]
        ax.plot([c for c, _ in synth], [focus(r, focus_class) for _, r in synth], "o-", label=name)
    ax.set_xlabel("synthetic cloud cover of each clear test patch (%)")
    ax.set_ylabel(f"{focus_class} IoU" if focus_class else "mIoU")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    _save(fig, path, dpi=120)


def plot_seed_summary(values, path, focus_class=None):
    """IoU against synthetic cloud cover: per model the mean over seeds, a bar from its lowest to its highest seed."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.8))
    for k, (model, rows) in enumerate(values.items()):
        synth = sorted((_cloud_cover(s), np.asarray(v)) for s, v in rows.items() if s.startswith("synthetic"))
        x = np.array([c for c, _ in synth]) + (k - (len(values) - 1) / 2) * 0.8   # small offsets keep bars apart
        mean = np.array([v.mean() for _, v in synth])
        low, high = mean - np.array([v.min() for _, v in synth]), np.array([v.max() for _, v in synth]) - mean
        n = sorted({len(v) for _, v in synth})
        label = f"{model} ({'/'.join(map(str, n))} seed{'s' if max(n) > 1 else ''})"
        ax.errorbar(x, mean, yerr=[low, high], fmt="o-", capsize=3, label=label)
    ax.set_xlabel("synthetic cloud cover of each clear test patch (%)")
    ax.set_ylabel((f"{focus_class} IoU" if focus_class else "mIoU") + ": mean, seed range")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    _save(fig, path, dpi=120)
