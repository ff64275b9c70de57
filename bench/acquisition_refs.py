"""EPIG, BAIT and BatchBALD against their reference implementations on identical inputs: the picks
(or scores) agree, and the time and extra peak memory of each at N = 50,000, d = 384, C = 10,
K = 20 MC samples, a batch of 500.

The references are imported at run time from checkouts the caller names, unmodified; nothing of
them is in this repository:

    --epig PATH        a checkout of fbickfordsmith/epig (src/uncertainty/epig_probs.py)
    --badge PATH       a checkout of JordanAsh/badge (query_strategies/bait_sampling.py)
    --batchbald PATH   a folder holding the batchbald_redux package and toma
                       (pip install --target PATH --no-deps batchbald_redux toma)

The inputs: a 10-class Gaussian mixture in 384 dimensions, the simulation's linear head trained
on 500 of its items, that head's probabilities and last-layer inputs [x, 1] on the other items,
and K posterior samples of its weights (the head's plus Gaussian noise, 4 times their own scale).
BAIT's reference is written for a GPU (``.cuda()`` on every tensor): here ``torch.Tensor.cuda``
returns the tensor itself, the only change, and its module's unused imports (the badge repo's
networks, torchfile) are stubbed. Where a reference cannot run at full size on this machine (BAIT's
(N, C, C·D) tensors, BatchBALD's hours), it is
timed on what it can run and the extrapolation is printed as such.

    .venv/bin/python bench/acquisition_refs.py --epig E --badge B --batchbald R [--quick]
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
import types
from pathlib import Path

import numpy as np
import torch

from al_bench.heads.linear import linear_head
from al_bench.loop.memory import PeakMemory
from al_bench.strategies.bait import bait_select
from al_bench.strategies.batchbald import batchbald_select
from al_bench.strategies.epig import epig_scores


def inputs(n: int, d: int, c: int, k: int, labeled: int = 500, seed: int = 0, spread: float = 4.0):
    """(x [x, 1] (N, d+1), probs (N, C), mc (K, N, C), labeled positions) of a trained linear head."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(c, d)) / np.sqrt(d) * 0.3
    y = rng.integers(c, size=n)
    x = (centers[y] + rng.normal(size=(n, d)) / np.sqrt(d)).astype(np.float32)
    lab = np.sort(rng.choice(n, labeled, replace=False))
    head = linear_head(d, c, 0).fit(x[lab], y[lab])
    probs = head.predict_proba(x)
    acc = float((probs.argmax(1) == y).mean())
    # K posterior samples of the weights: the head's, perturbed by Gaussian noise of ``spread`` times its scale
    # (a Laplace-like posterior; the head's dropout passes barely disagree on these features, which
    # leaves EPIG at 1e-7, below float32's resolution in the references)
    w = head.weight.numpy().astype(np.float64)
    b = head.bias.numpy().astype(np.float64)
    noise = np.random.default_rng(seed + 1).normal(size=(k,) + w.shape) * np.sqrt((w**2).mean()) * spread
    logits = np.einsum("nd,kcd->knc", x.astype(np.float64), w[None] + noise) + b
    mc = np.exp(logits - logits.max(-1, keepdims=True))
    mc = (mc / mc.sum(-1, keepdims=True)).astype(np.float32)
    return np.c_[x, np.ones(n, np.float32)], probs, mc, lab, acc


def timed(fn):
    with PeakMemory() as mem:
        t0 = time.perf_counter()
        out = fn()
        seconds = time.perf_counter() - t0
    return out, seconds, mem.mb


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


# -- EPIG -------------------------------------------------------------------------------------
def epig_rows(root: Path, mc: np.ndarray, targets: int, rng: np.random.Generator) -> list[dict]:
    sys.path.insert(0, str(root))
    ref = importlib.import_module("src.uncertainty.epig_probs")
    t_rows = np.sort(rng.choice(mc.shape[1], targets, replace=False))
    ours, s_ours, m_ours = timed(lambda: epig_scores(mc, mc[:, t_rows]))
    pool = torch.as_tensor(mc.transpose(1, 0, 2))  # (N, K, C) float32, as the reference takes them
    targ = pool[t_rows]
    mat, s_mat, m_mat = timed(lambda: ref.epig_from_probs_using_matmul(pool, targ).double().numpy())

    def kl_form(chunk=100):  # epig_from_probs on pool batches, as the authors' trainer feeds it
        return np.concatenate([ref.epig_from_probs(pool[i : i + chunk], targ).double().numpy()
                               for i in range(0, len(pool), chunk)])

    kl, s_kl, m_kl = timed(kl_form)
    top = 500
    same = lambda a: len(set(np.argsort(-a)[:top]) & set(np.argsort(-ours)[:top])) / top  # noqa: E731
    return [
        {"what": "epig (al_bench, float64)", "seconds": s_ours, "peak_mb": m_ours, "max_abs_diff": 0.0, "top500_shared": 1.0},
        {"what": "epig_from_probs_using_matmul (float32)", "seconds": s_mat, "peak_mb": m_mat,
         "max_abs_diff": float(np.abs(mat - ours).max()), "top500_shared": same(mat)},
        {"what": "epig_from_probs, pool batches of 100 (float32)", "seconds": s_kl, "peak_mb": m_kl,
         "max_abs_diff": float(np.abs(kl - ours).max()), "top500_shared": same(kl)},
    ]


def epig_target_rows(mc: np.ndarray, draws: int = 3) -> list[dict]:
    """EPIG with 100 pool targets against 1,000 (one draw): rank correlation over the pool and the
    top 500 shared, for ``draws`` draws of 100."""
    big = epig_scores(mc, mc[:, np.sort(np.random.default_rng(0).choice(mc.shape[1], 1000, replace=False))])

    def ranks(a):
        r = np.empty(len(a))
        r[np.argsort(a)] = np.arange(len(a))
        return r

    rows = []
    for seed in range(1, draws + 1):
        small = epig_scores(mc, mc[:, np.sort(np.random.default_rng(seed).choice(mc.shape[1], 100, replace=False))])
        top = len(set(np.argsort(-small)[:500]) & set(np.argsort(-big)[:500])) / 500
        rows.append({"what": f"epig, 100 targets (draw {seed}) against 1,000", "rank_correlation": float(np.corrcoef(
            ranks(small), ranks(big))[0, 1]), "top500_shared": top})
    return rows


# -- BAIT -------------------------------------------------------------------------------------
def _bait_reference(root: Path):
    for name in ("resnet", "vgg", "torchfile"):
        sys.modules.setdefault(name, types.ModuleType(name))
    pkg = types.ModuleType("query_strategies")
    pkg.__path__ = [str(root / "query_strategies")]
    sys.modules["query_strategies"] = pkg
    strategy = types.ModuleType("query_strategies.strategy")
    strategy.Strategy = type("Strategy", (), {})
    sys.modules["query_strategies.strategy"] = strategy
    torch.Tensor.cuda = lambda self, *a, **k: self  # CPU: the reference calls .cuda() on every tensor
    return _load(root / "query_strategies" / "bait_sampling.py", "query_strategies.bait_sampling")


def _fisher_embeddings(p: np.ndarray, xb: np.ndarray, dtype=torch.float32) -> torch.Tensor:
    """(N, C, C·D): row c = √p_c (e_c − p) ⊗ x, as the reference's get_exp_grad_embedding."""
    c = p.shape[1]
    g = np.sqrt(p)[:, :, None] * (np.eye(c)[None] - p[:, None, :])  # (N, C, C)
    return torch.as_tensor((g[:, :, :, None] * xb[:, None, None, :]).reshape(len(p), c, -1), dtype=dtype)


def bait_reference_picks(ref, p, xb, lab, unl, n, lamb, dtype=torch.float64):
    """The reference's select() on the same Fisher embeddings, fisher and labeled Fisher as its
    query(), in ``dtype`` (its tensors keep the embeddings' type)."""
    xt = _fisher_embeddings(p, xb, dtype)
    fisher = torch.einsum("nci,ncj->ij", xt, xt) / len(xt)
    init = torch.einsum("nci,ncj->ij", xt[lab], xt[lab]) / len(lab)
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):  # it prints every step
        chosen = ref.select(xt[unl], n, fisher, init, lamb=lamb, nLabeled=len(lab))
    return np.asarray(chosen)


def bait_rows(root: Path, xb, p, lab, n: int, small: int, quick: bool) -> list[dict]:
    ref = _bait_reference(root)
    rows = []
    # identical picks on a pool the reference can hold: 20 features, `small` items
    sub = np.arange(small)
    lab_s = sub[np.isin(sub, lab)][:20]
    if lab_s.size < 5:
        lab_s = sub[:20]
    unl_s = np.setdiff1d(sub, lab_s)
    xs = np.c_[xb[:, :20], xb[:, -1:]]
    got, _ = bait_select(p[unl_s], xs[unl_s], p[lab_s], xs[lab_s], 20, 1.0)
    for dtype in (torch.float64, torch.float32):
        want = bait_reference_picks(ref, p[:small], xs[:small], lab_s, unl_s, 20, 1.0, dtype)
        rows.append({"what": f"bait picks, {unl_s.size} candidates x 20 features x {p.shape[1]} classes, batch 20, "
                             f"reference in {dtype}", "same_picks": f"{len(set(want.tolist()) & set(got.tolist()))}/20",
                     "same_order": bool((want == got).all())})
    # time of one reference forward step at 5,000 candidates and full d (its cost is linear in N per step)
    m = 2000 if quick else 5000
    unl = np.setdiff1d(np.arange(len(p)), lab)
    xt = _fisher_embeddings(p[unl[:m]], xb[unl[:m]])
    dim = xt.shape[-1]
    inv = torch.eye(dim)
    fisher = torch.eye(dim)

    def step():
        inner = torch.inverse(torch.eye(xt.shape[1]) + xt @ inv @ xt.transpose(1, 2))
        return torch.diagonal(xt @ inv @ fisher @ inv @ xt.transpose(1, 2) @ inner, dim1=-2, dim2=-1).sum(-1)

    _, s_step, m_step = timed(step)  # the reference's forward-step expression, on its tensors
    steps = 2 * n + n  # 2n forward steps over every candidate; n backward steps over 2n items (bounded above)
    rows.append({"what": f"bait reference: one forward step, {m:,} candidates (its expression, float32)",
                 "seconds": s_step, "peak_mb": m_step,
                 "extrapolated_seconds_at_N": s_step * (len(unl) / m) * 2 * n, "steps": steps})
    ours, s_ours, m_ours = timed(lambda: bait_select(p[unl], xb[unl], p[lab], xb[lab], n, 1.0))
    rows.append({"what": f"bait (al_bench, float64): {len(unl):,} candidates, batch {n}", "seconds": s_ours, "peak_mb": m_ours})
    return rows


# -- BatchBALD --------------------------------------------------------------------------------
class _Quiet:
    """The references' progress bars (tqdm, on stderr) off while they run."""

    def __enter__(self):
        import os

        self._fd = os.dup(2)
        self._null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(self._null, 2)

    def __exit__(self, *exc):
        import os

        os.dup2(self._fd, 2)
        os.close(self._fd)
        os.close(self._null)


def batchbald_rows(root: Path, mc: np.ndarray, batches: list[int], samples: int, quick: bool):
    """Yields rows: the picks of both on 2,000 items; the reference's time per pick at full N from
    two runs (4 and 5 picks: the fifth has 10^4 configurations, the most it ever holds, so every
    later pick costs about as much); ours for each batch size."""
    sys.path.insert(0, str(root))
    from batchbald_redux.batchbald import get_batchbald_batch  # noqa: E402

    small = mc[:, :2000]
    log_small = torch.as_tensor(np.log(np.maximum(small.transpose(1, 0, 2).astype(np.float64), 1e-300)))
    with _Quiet():
        want = get_batchbald_batch(log_small, 10, samples, dtype=torch.double).indices
    got, _ = batchbald_select(small, 10, np.random.default_rng(0), samples)
    exact = int(np.floor(np.log(samples) / np.log(mc.shape[2]))) + 1  # picks made with every configuration enumerated
    yield {"what": f"batchbald picks, 2,000 items, batch 10 (exact for the first {exact})",
           "same_picks": f"{len(set(want) & set(got.tolist()))}/10", "same_first_exact": want[:exact] == got[:exact].tolist(),
           "ref": want, "ours": got.tolist()}
    log_all = torch.as_tensor(np.log(np.maximum(mc.transpose(1, 0, 2).astype(np.float64), 1e-300)))
    picks = (2, 3) if quick else (4, 5)
    times = []
    for b in picks:
        with _Quiet():
            _, s, m = timed(lambda b=b: get_batchbald_batch(log_all, b, samples, dtype=torch.double))
        times.append((s, m))
        yield {"what": f"batchbald_redux: {b} picks of {mc.shape[1]:,}", "seconds": s, "peak_mb": m}
    last = times[1][0] - times[0][0]
    yield {"what": f"batchbald_redux: pick {picks[1]} alone (every later pick costs about as much)", "seconds": last,
           "extrapolated": {b: times[1][0] + last * (b - picks[1]) for b in batches}}
    for b in batches:
        _, s, m = timed(lambda b=b: batchbald_select(mc, b, np.random.default_rng(0), samples))
        yield {"what": f"batchbald (al_bench): batch {b} of {mc.shape[1]:,}", "seconds": s, "peak_mb": m}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epig", type=Path)
    ap.add_argument("--badge", type=Path)
    ap.add_argument("--batchbald", type=Path)
    ap.add_argument("--n", type=int, default=50_000)
    ap.add_argument("--d", type=int, default=384)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--k", type=int, default=20)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--batchbald-batches", type=int, nargs="*", default=[20, 100],
                    help="our BatchBALD's batch sizes (500 picks at samples=10,000 take hours for both; see bench/README.md)")
    ap.add_argument("--targets", type=int, default=100)
    ap.add_argument("--samples", type=int, default=10_000)
    ap.add_argument("--quick", action="store_true", help="smaller reference timings (a check that the script runs)")
    ap.add_argument("--only", nargs="*", default=["epig", "bait", "batchbald"])
    ap.add_argument("--targets-check", action="store_true", help="only: EPIG with 100 pool targets against 1,000")
    a = ap.parse_args(argv)
    xb, p, mc, lab, acc = inputs(a.n, a.d, a.classes, a.k)
    print(f"inputs: N={a.n:,} d={a.d} C={a.classes} K={a.k}; the head's accuracy on the pool {acc:.3f}; "
          f"torch threads {torch.get_num_threads()}", flush=True)
    unl = np.setdiff1d(np.arange(a.n), lab)
    if a.targets_check:
        for row in epig_target_rows(mc[:, unl]):
            print(row, flush=True)
        return
    if "epig" in a.only and a.epig:
        for row in epig_rows(a.epig, mc[:, unl], a.targets, np.random.default_rng(0)):
            print(row, flush=True)
    if "batchbald" in a.only and a.batchbald:
        for row in batchbald_rows(a.batchbald, mc[:, unl], a.batchbald_batches, a.samples, a.quick):
            print(row, flush=True)
    if "bait" in a.only and a.badge:
        for row in bait_rows(a.badge, xb, p, lab, a.batch, 600, a.quick):
            print(row, flush=True)


if __name__ == "__main__":
    main()
