"""``model=linear``: softmax regression with input dropout on the frozen embeddings (the default head)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import torch

from ..options import option
from ..threads import single_threaded
from . import HEADS
from ._common import HeadBase, canonical_order, dropout_masks, gradient_factors, point_dropout_proba, uint16_draws

__all__ = ["LinearHead", "LinearSettings", "HeadSettings", "linear_head"]


STANDARDIZE_HELP = "train on inputs standardized by the labeled set's mean and std (folded into the weights after the fit)"


@dataclass(frozen=True)
class LinearSettings:
    """Training settings of the linear head (see al_bench/conf/model/linear.yaml)."""

    dropout: float = option(0.1, lo=0.0, hi=1.0, hi_open=True, help="input dropout rate, in training and MC sampling")
    lr: float = option(0.05, lo=0.0, hi=10.0, lo_open=True, help="Adam learning rate")
    weight_decay: float = option(1e-2, lo=0.0, hi=1e3, help="L2 penalty on the weights (not the bias)")
    steps: int = option(300, lo=1, help="optimizer steps per fit (fixed, so cost does not grow with rounds)")
    batch_size: int = option(512, lo=1, help="minibatch size; smaller labeled sets train full-batch")
    standardize: bool = option(False, help=STANDARDIZE_HELP)
    selection_steps: int = option(100, lo=1, help="optimizer steps of the fits between budget points, which only "
                                                  "choose the next batch (budget points always use steps)")

    def for_selection(self) -> "LinearSettings":
        """The settings of a fit between budget points: ``selection_steps`` steps, the rest alike."""
        return dataclasses.replace(self, steps=self.selection_steps)


HeadSettings = LinearSettings  # the name earlier code used


def linear_head(n_features: int, n_classes: int, seed: int, settings: LinearSettings | None = None, *,
                selection: bool = False) -> "LinearHead":
    """The linear head, unfitted: ``settings`` (default :class:`LinearSettings`'s defaults), or with
    ``selection`` their cheaper fit for the rounds between budget points. The one builder of the
    simulation's default head, :func:`al_bench.select`'s head trained on the labels it is given
    and a labeling project's model."""
    s = settings if settings is not None else LinearSettings()
    return LinearHead(n_features, n_classes, s.for_selection() if selection else s, seed)


@HEADS.register("linear", settings=LinearSettings, inputs="features")
class LinearHead(HeadBase):
    """Softmax regression with input dropout, trained from zero weights with Adam.

    Deterministic for a given ``seed`` and training set: zero initialisation, and every random
    draw (minibatches, dropout masks) comes from a private ``torch.Generator``.
    """

    def __init__(self, n_features: int, n_classes: int, settings: LinearSettings, seed: int) -> None:
        self.d, self.c = int(n_features), int(n_classes)
        self.s = settings
        self.seed = int(seed)
        self.weight = torch.zeros(self.c, self.d)
        self.bias = torch.zeros(self.c)
        self.temperature = 1.0

    # -- training ---------------------------------------------------------------------------
    def fit(self, x: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None) -> "LinearHead":
        """Fit on features (n, d) and labels (n,), starting again from zero weights.

        The softmax-regression gradient is written out (no autograd) and Adam (β = 0.9, 0.999,
        ε = 1e-8, bias-corrected) with a cosine learning-rate decay to 0 is applied by hand: at
        these sizes a step is a few small kernels and per-op overhead would otherwise dominate.
        Minibatch order and dropout masks come from one PCG64 stream seeded by ``seed``; a mask
        keeps a feature when a uniform 16-bit draw is below round(keep · 2¹⁶). The rows are
        first put in :func:`canonical_order`, so the model depends on the labeled set and the
        seed, never on the order the rows are given in.
        """
        y = np.asarray(y, dtype=np.int64)
        order = canonical_order(x, y)
        x, y = np.asarray(x)[order], y[order]
        weights = None
        if sample_weight is not None:  # a weighted loss (e.g. LURE): each row's term times its weight
            weights = torch.as_tensor(np.asarray(sample_weight, np.float64)[order], dtype=torch.float32)
        shift = scale = None
        if self.s.standardize:  # z = (x − μ) / σ over the labeled rows; constant features get σ = 1
            x64 = np.asarray(x, np.float64)
            shift = x64.mean(axis=0)
            scale = x64.std(axis=0)
            scale[scale < 1e-12] = 1.0
            x = ((x64 - shift) / scale).astype(np.float32)
        # one thread: the gradient's sum over the minibatch (p.T @ xb) is split between MKL's
        # threads otherwise, and the weights would depend on the thread count in the last bits
        with single_threaded():
            w = self._adam(torch.as_tensor(np.ascontiguousarray(x), dtype=torch.float32), y, weights)
        d = self.d
        self.weight, self.bias = w[:, :d].contiguous(), w[:, d].contiguous()
        if shift is not None:  # W z + b = (W / σ) x + (b − W (μ / σ)): the head then takes raw inputs
            w64 = self.weight.double().numpy()
            self.bias = torch.from_numpy(self.bias.double().numpy() - w64 @ (shift / scale)).float()
            self.weight = torch.from_numpy(w64 / scale[None, :]).float().contiguous()
        self.temperature = 1.0
        return self

    def _adam(self, xt: torch.Tensor, y: np.ndarray, weights: torch.Tensor | None = None) -> torch.Tensor:
        """The training loop of :meth:`fit` on rows ``xt`` (n, d) in canonical order: the
        weights with the bias as the last column, (C, d+1)."""
        n, c, d = len(y), self.c, self.d
        rng = np.random.Generator(np.random.PCG64(self.seed))
        keep = 1.0 - self.s.dropout
        threshold = int(round(keep * 65536))
        bs = min(self.s.batch_size, n)
        w = torch.zeros(c, d + 1)  # weights with the bias as the last column
        m, v = torch.zeros_like(w), torch.zeros_like(w)
        decay = torch.full((c, d + 1), self.s.weight_decay)
        decay[:, -1] = 0.0  # no penalty on the bias
        xb = torch.ones(bs, d + 1)  # minibatch with a constant bias input in the last column
        rows = torch.arange(bs)
        order, pos = rng.permutation(n), 0
        b1, b2, eps = 0.9, 0.999, 1e-8
        for t in range(1, self.s.steps + 1):
            if bs == n:
                idx = np.arange(n)
            else:
                if pos + bs > n:
                    order, pos = rng.permutation(n), 0
                idx = order[pos : pos + bs]
                pos += bs
            it = torch.from_numpy(idx)
            torch.index_select(xt, 0, it, out=xb[:, :d])
            if self.s.dropout > 0:
                mask = torch.from_numpy(uint16_draws(rng, bs * d).reshape(bs, d) < threshold)
                xb[:, :d].mul_(mask).mul_(1.0 / keep)
            z = xb @ w.T
            p = torch.softmax(z, dim=1)
            p[rows, torch.from_numpy(y[idx])] -= 1.0
            if weights is not None:
                p.mul_(weights[it][:, None])
            grad = (p.T @ xb).div_(bs).addcmul_(decay, w)
            m.mul_(b1).add_(grad, alpha=1 - b1)
            v.mul_(b2).addcmul_(grad, grad, value=1 - b2)
            lr = self.s.lr * 0.5 * (1.0 + math.cos(math.pi * (t - 1) / self.s.steps))
            denom = (v / (1 - b2**t)).sqrt_().add_(eps)
            w.addcdiv_(m, denom, value=-lr / (1 - b1**t))
        return w

    # -- outputs ----------------------------------------------------------------------------
    @torch.inference_mode()
    def logits(self, x: np.ndarray) -> np.ndarray:
        """Deterministic logits (dropout off, no temperature). (N, d) → (N, C) float64."""
        xt = torch.as_tensor(np.ascontiguousarray(x), dtype=torch.float32)
        with single_threaded():  # as in sample_proba: no shape gets its sum over features split
            return (xt @ self.weight.T + self.bias).double().numpy()

    def _mc_weights(self, k: int, seed: int) -> torch.Tensor:
        """(K, C, d): the weight matrix under each pass's input-dropout mask."""
        masks = dropout_masks(k, self.d, self.s.dropout, torch.Generator().manual_seed(int(seed)))
        return self.weight[None, :, :] * masks[:, None, :]

    def _mc_chunk(self, xc: np.ndarray, wk: torch.Tensor) -> torch.Tensor:
        xt = torch.as_tensor(np.ascontiguousarray(xc), dtype=torch.float32)
        logits = torch.einsum("nd,kcd->knc", xt, wk) + self.bias
        return torch.softmax(logits / self.temperature, dim=-1)

    @torch.inference_mode()
    def sample_proba(self, x: np.ndarray, k: int, seed: int, chunk: int = 8192) -> np.ndarray:
        """MC-dropout samples: (N, d) → (K, N, C) float32, temperature-scaled.

        Each pass draws one input-dropout mask shared by all points ("consistent" MC dropout:
        one posterior sample of the head per pass, so pass k is a single matrix product with
        the masked weight matrix). Rows are processed in chunks to bound memory.
        """
        wk = self._mc_weights(k, seed)
        out = torch.empty(k, len(x), self.c)
        # one thread: for a chunk of few rows MKL splits the sum over features between its threads
        with single_threaded():
            for s in range(0, len(x), chunk):
                out[:, s : s + chunk] = self._mc_chunk(x[s : s + chunk], wk)
        return out.numpy()

    @torch.inference_mode()
    def bald_scores(self, x: np.ndarray, k: int, seed: int, rows: np.ndarray | None = None,
                    chunk: int = 8192) -> np.ndarray:
        """BALD of rows ``rows`` of ``x`` (default all) from the same K passes as
        :meth:`sample_proba` (equal values), fused chunk by chunk: the (K, N, C) samples and the
        gathered rows never exist whole, so extra memory is O(K · chunk · C + chunk · d)."""
        from ..scores import bald

        wk = self._mc_weights(k, seed)
        n = len(x) if rows is None else len(rows)
        out = np.empty(n, np.float64)
        with single_threaded():  # as in sample_proba
            for s in range(0, n, chunk):
                xc = x[s : s + chunk] if rows is None else x[np.asarray(rows[s : s + chunk])]
                out[s : s + chunk] = bald(self._mc_chunk(xc, wk).numpy())
        return out

    def feature_dropout_proba(self, x: np.ndarray, m: int, rate: float, seed: int) -> np.ndarray:
        """``m`` passes with input dropout at ``rate`` (not the training rate), a fresh mask for
        every point in every pass (DropQuery's perturbation, unlike :meth:`sample_proba`'s shared
        masks): (N, d) → (M, N, C) float32, temperature-scaled. See
        :func:`~al_bench.heads.point_dropout_proba`."""
        return point_dropout_proba(x, self.weight.numpy(), self.bias.numpy(), self.temperature, m, rate, seed)

    def gradient_factors(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Factors of the last-layer gradient embedding with the predicted label as target.

        Returns ``a`` (N, C) = p − onehot(ŷ) and ``xb`` (N, d+1) = [x, 1] (the bias input), so the
        gradient of the loss w.r.t. [W, b] for item i is the outer product a_i ⊗ xb_i.
        """
        return gradient_factors(self.predict_proba(x), x)
