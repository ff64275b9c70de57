"""Results do not depend on the thread count: the linear head (fit, outputs, temperature, ECE)
and the fitted embedders (kmeans_patches' whitening, k-means and PCA; pixels' PCA) give the same
bytes with torch, BLAS and FAISS at one thread and at two; and a whole run gives byte-identical
curve.csv and selected.csv with ``threads=1`` and ``threads=2`` (slow tier)."""

from __future__ import annotations

import threading
from contextlib import contextmanager

import numpy as np
import pytest
import torch

from al_bench.threads import single_threaded


@contextmanager
def job_threads(n: int):
    """torch, the BLAS libraries (NumPy's, SciPy's, FAISS's) and FAISS's OpenMP at ``n`` threads,
    as ``pin_threads`` sets a job; restored after."""
    import faiss
    import scipy.linalg  # noqa: F401 - load SciPy's BLAS so that the limit reaches it
    from threadpoolctl import threadpool_limits

    torch_before, faiss_before = torch.get_num_threads(), faiss.omp_get_max_threads()
    torch.set_num_threads(n)
    faiss.omp_set_num_threads(n)
    try:
        with threadpool_limits(limits=n):
            yield
    finally:
        torch.set_num_threads(torch_before)
        faiss.omp_set_num_threads(faiss_before)


def at_1_and_2_threads(fn):
    """``fn()`` at one thread and at two, each result as bytes: {name: bytes} from a dict of arrays."""
    out = []
    for n in (1, 2):
        with job_threads(n):
            res = fn()
        out.append({k: np.ascontiguousarray(v).tobytes() for k, v in res.items()})
    return out


def assert_same_bytes(one, two):
    differ = sorted(k for k in one if one[k] != two[k])
    assert not differ, f"differ between 1 and 2 threads: {differ}"


# -- the helper ---------------------------------------------------------------------------------

def test_single_threaded_lowers_torch_and_blas_and_restores_after_the_last_block():
    from threadpoolctl import threadpool_info

    def blas_threads():
        return {lib["filepath"]: lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}

    with job_threads(2):
        before = blas_threads()
        with single_threaded(blas=True):
            assert torch.get_num_threads() == 1 and set(blas_threads().values()) == {1}
            with single_threaded():  # nested: the outer block's exit restores, not this one's
                pass
            assert torch.get_num_threads() == 1 and set(blas_threads().values()) == {1}
        assert torch.get_num_threads() == 2 and blas_threads() == before


@pytest.mark.slow  # the default tier's time (README, Tests); CI runs it with -m slow
def test_single_threaded_blocks_from_two_threads_run_one_at_a_time():
    """The labeling app fits in a worker thread: a block entered meanwhile from another thread
    waits for it to end (the worker's exit cannot give that block its threads back)."""
    inside, leave = threading.Event(), threading.Event()
    order = []

    def worker():
        with single_threaded():
            inside.set()
            leave.wait(10)
            order.append("worker ends")

    with job_threads(2):
        t = threading.Thread(target=worker)
        t.start()
        assert inside.wait(10)
        timer = threading.Timer(0.2, leave.set)
        timer.start()
        with single_threaded():
            order.append("main enters")
            assert torch.get_num_threads() == 1
        t.join(10)
        timer.join(10)
    assert order == ["worker ends", "main enters"]


# -- the linear head ----------------------------------------------------------------------------

def _blobs(n, d, c=10, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 2, size=(c, d))
    y = rng.integers(0, c, n)
    return (centers[y] + rng.normal(size=(n, d))).astype(np.float32), y


@pytest.mark.parametrize("model", ["linear", "linear_std"])
@pytest.mark.parametrize("n, d", [(60, 64), (600, 64), (600, 384)])  # full batch; 512-row minibatches
def test_linear_head_fit_gives_the_same_weights_at_any_thread_count(model, n, d):
    """The gradient's sum over the minibatch is the GEMM p.T @ xb, which MKL splits between threads."""
    from al_bench.heads import HEADS

    x, y = _blobs(n, d)
    entry = HEADS.entry(model)

    def fit():
        head = entry.obj(d, 10, entry.settings(steps=60), 7).fit(x, y)
        return {"weight": head.weight.numpy(), "bias": head.bias.numpy()}

    assert_same_bytes(*at_1_and_2_threads(fit))


def test_linear_head_outputs_are_the_same_at_any_thread_count():
    """Logits, MC-dropout samples, BALD, per-point dropout passes and gradient factors of a fitted
    head; a handful of rows is the shape whose sum over features MKL splits."""
    from al_bench.heads.linear import LinearHead, LinearSettings

    x, y = _blobs(600, 384)
    head = LinearHead(384, 10, LinearSettings(steps=20), 3).fit(x, y)
    head.temperature = 0.8
    q = _blobs(10, 384, seed=1)[0]

    def outputs():
        a, xb = head.gradient_factors(q)
        return {"logits": head.logits(q), "proba": head.predict_proba(q), "mc": head.sample_proba(q, 20, 5),
                "bald": head.bald_scores(q, 20, 5), "dropout": head.feature_dropout_proba(q, 4, 0.3, 5),
                "grad_a": a, "grad_x": xb}

    assert_same_bytes(*at_1_and_2_threads(outputs))


@pytest.mark.slow  # the default tier's time (README, Tests); CI runs it with -m slow
def test_temperature_and_ece_are_the_same_at_any_thread_count():
    """What a budget point writes: the head fitted and temperature-scaled on the calibration
    split, then accuracy, ECE (calibrated and not) and the temperature on the test split."""
    from al_bench.data import make_split
    from al_bench.loop import ModelOracle, default_head
    from al_bench.loop.oracle import evaluate

    x, y = _blobs(1500, 64)
    split = make_split(y, seed=0, test_fraction=0.2, calibration_fraction=0.1)

    def point():
        oracle = ModelOracle(x[split.pool], y[split.pool], x[split.calibration], y[split.calibration], 10,
                             default_head, seed=3)
        oracle.update(np.arange(600))
        m = evaluate(oracle.current(evaluation=True), x[split.test], y[split.test], 15)
        return {k: np.float64(v) for k, v in m.items()}

    one, two = at_1_and_2_threads(point)
    assert_same_bytes(one, two)


# -- the fitted embedders -----------------------------------------------------------------------

def _images(n, size, seed=0):
    """Smooth random colour images (blurred noise, so patches have structure). (n, size, size, 3) uint8"""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, size // 4, size // 4, 3))
    z = np.repeat(np.repeat(z, 4, axis=1), 4, axis=2) + 0.3 * rng.normal(size=(n, size, size, 3))
    return np.clip(128 + 50 * z, 0, 255).astype(np.uint8)


def test_patch_whitening_and_kmeans_are_the_same_at_any_thread_count():
    """The covariance of 6x6x3 patches (a sum over patches) and its eigendecomposition, then FAISS's k-means."""
    from al_bench.embedders.kmeans_patches import PatchFeatures

    imgs = _images(200, 16)

    def fit():
        enc = PatchFeatures.fit(imgs, 6, 150, 3000, 0.1, 5, np.random.default_rng(0))
        return {"mean": enc.mean, "zca": enc.zca, "centroids": enc.centroids}

    assert_same_bytes(*at_1_and_2_threads(fit))


@pytest.mark.slow  # about 3 s
def test_kmeans_patches_embedding_is_the_same_at_any_thread_count():
    """The whole embedder, its PCA (randomized SVD at this size) included."""
    from al_bench.embedders.kmeans_patches import kmeans_patches

    imgs = _images(200, 16)
    fit_idx = np.arange(0, 200, 2)[:90]

    def embed():
        return {"x": kmeans_patches(imgs, fit_idx, 3, image_size=16, centroids=150, n_patches=3000,
                                    kmeans_iters=5, pca_dim=48)}

    assert_same_bytes(*at_1_and_2_threads(embed))


def test_pixels_embedding_is_the_same_at_any_thread_count():
    from al_bench.embedders.pixels import pixels

    imgs = _images(600, 16)

    def embed():
        return {"x": pixels(imgs, np.arange(500), 3, max_dim=96)}

    assert_same_bytes(*at_1_and_2_threads(embed))


# -- whole runs (slow tier) ---------------------------------------------------------------------

def _run_files(tmp_path, threads, *overrides):
    """curve.csv and selected.csv of ``python -m al_bench OVERRIDES threads=N``, with outputs and
    caches of its own (so the fitted embedder is fitted at that thread count too)."""
    from support import main

    out = tmp_path / f"out{threads}"
    r = main(*overrides, f"threads={threads}", f"paths.outputs_dir={out}", f"paths.data_dir={tmp_path / f'data{threads}'}",
             cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    (curve,) = (out / "runs").rglob("curve.csv")
    return {"curve.csv": curve.read_bytes(), "selected.csv": (curve.parent / "selected.csv").read_bytes()}


@pytest.mark.slow
def test_a_digits_badge_run_writes_the_same_files_with_threads_1_and_2(tmp_path):
    args = ("dataset=digits", "embedder=pixels", "budget=smoke", "strategy=badge", "seed=3")
    assert_same_bytes(_run_files(tmp_path, 1, *args), _run_files(tmp_path, 2, *args))


@pytest.mark.slow
def test_a_kmeans_patches_run_writes_the_same_files_with_threads_1_and_2(tmp_path):
    """A small kmeans_patches embedder (its k-means, whitening and randomized PCA) fitted in each run."""
    path = tmp_path / "images.npz"
    np.savez(path, images=_images(300, 16, seed=2), labels=np.arange(300) % 5)
    args = ("dataset=npz", f"dataset.path={path}", "embedder=kmeans_patches", "embedder.image_size=16",
            "embedder.centroids=150", "embedder.n_patches=3000", "embedder.kmeans_iters=5", "embedder.pca_dim=48",
            "budget=smoke", "strategy=random", "seed=3")
    assert_same_bytes(_run_files(tmp_path, 1, *args), _run_files(tmp_path, 2, *args))
