"""What the figure reports share: a panel's title for its comparison group, and writing the
PNG whole (a temporary file renamed into place, so a reader never sees half a figure)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence


def group_title(key: Sequence[Any], groups: Sequence[tuple[Sequence[Any], Any]]) -> str:
    """``dataset · embedder embeddings · model head · budget 'schedule'`` for the comparison
    group ``key`` (dataset, embedder, model, schedule, comparison id); the config id is added
    when another group has the same names (configs that differ beyond them)."""
    ds, emb, model, sched = key[:4]
    same_names = sum(tuple(other[:4]) == tuple(key[:4]) for other, _ in groups) > 1
    return (f"{ds} · {emb} embeddings · {model} head · budget '{sched}'"
            + (f" · config {key[4][:6]}" if same_names else ""))


def budget_axis(ax: Any, frame: Any, log_x: bool, fraction: Callable[[float], str]) -> None:
    """The x axis of a per-budget-point panel: ticks at the mean number of labels of each budget
    point of ``frame`` (``budget``, ``n_labeled``), labelled with the count and ``fraction(b)``."""
    pts = frame.groupby("budget")["n_labeled"].mean()
    ax.set_xscale("log" if log_x else "linear")
    ax.set_xticks(pts.to_numpy(dtype=float))
    ax.set_xticklabels([f"{int(round(n))}\n{fraction(b)}" for b, n in pts.items()])
    ax.minorticks_off()
    ax.set_xlabel("labeled images (fraction of pool)")


def save_figure(fig: Any, path: Path, dpi: int = 130) -> Path:
    """Write ``fig`` to ``path`` (PNG) atomically and close it."""
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=dpi)
    plt.close(fig)
    tmp.replace(path)
    return path
