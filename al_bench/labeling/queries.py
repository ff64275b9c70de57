"""The queries of a labeling project: picking images with a strategy (:meth:`query`, every
query kept as a named selection), the app's next batch, and the selections on record."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import UserError
from .checks import check_name, check_seed
from .store import CACHE, CURRENT_LABEL, Progress, ProjectStore, now_utc, quiet

if TYPE_CHECKING:
    from .training import FeatureTable

__all__ = ["DEFAULT_STRATEGY", "INITIAL_STRATEGY", "CHANGED_STRATEGY", "DEFAULT_AUDIT_FRACTION", "NamedSelection",
           "QueriesMixin"]

DEFAULT_STRATEGY = "auto"  # typiclust, then margin when the labels say so (strategies/auto.py)
# the first batch, before any label: TypiClust beat random at 2–5 labels per class on both
# datasets of the 10-seed study (bench/README.md), uncertainty needs a model
INITIAL_STRATEGY = "typiclust"
CHANGED_STRATEGY = "changed"  # the batch of images labeled before their file changed
# the share of each app batch drawn uniformly for the accuracy estimate (estimate.py; the
# coverage, error and cost behind the choice: bench/README.md, bench/honest_estimate.py)
DEFAULT_AUDIT_FRACTION = 0.25


@dataclass(frozen=True)
class NamedSelection:
    """A query kept in the project: its strategy and parameters, when, and the ids it picked."""

    name: str
    strategy: str
    params: dict[str, Any]
    created: str
    ids: tuple[str, ...]  # item keys (absolute paths), pick order
    scores: tuple[float, ...]
    subset: str | None = None
    n_labeled: int = 0  # labeled-set size when the query ran
    model_round: int | None = None


class QueriesMixin(ProjectStore):
    """:meth:`query`, :meth:`next_batch`, :meth:`batch_open`, :meth:`selections`, :meth:`selection`,
    :meth:`last_selection`, :attr:`added_set`. Uses the items room (file checks, subsets), the
    training room (features, the current model) and the labels room."""

    @property
    def added_set(self) -> list[str]:
        """The ids the last query picked (empty before any)."""
        sel = self.last_selection()
        return list(sel.ids) if sel else []

    def query(self, strategy: str | None = None, n: int | None = None, *, total: int | None = None,
              subset: str | None = None, name: str | None = None, seed: int | None = None,
              progress: Progress = quiet, segmentation_model: Any = None,
              segmentation: Mapping[str, Any] | None = None, audit: bool = False, **params: Any) -> NamedSelection:
        """Pick ``n`` unlabeled images with ``strategy`` (default: the project's), or as many as
        bring the labeled set to ``total`` (Lightly's ``n_samples``), among ``subset`` if given.
        The current model serves strategies that read one; the picks are kept as selection
        ``name`` (default ``query-<k>``) with the strategy, parameters, time and ids.

        With ``segmentation_model`` (a model file path or a loaded
        :class:`~al_bench.segmentation.SegmentationModel`) the strategy is a segmentation recipe
        (``al_bench.segmentation.RECIPES``: ``uncertainty``, ``kcenter``, ``shortlist_kcenter``,
        ``alges``, ``alges_coreset``, ``ranked_batch``; ``hybrid`` and ``uncertainty_coreset``
        are the former names of two of them): the network runs on the candidates through the provider (``segmentation``:
        its options — ``arch``, ``num_classes``, ``provider``, ``image_size``, ... — cached under
        the project's ``cache/``) and the recipe picks, coresets on the project's embedding.

        The files are checked first: an image labeled before its file changed is unlabeled
        here (it may be picked again). Random choices come from ``al_bench.rng.stream(project
        seed, "query", k)`` for the project's k-th selection, or with ``seed`` (a whole number
        >= 0) from ``stream(seed, "pick")``, as :func:`al_bench.select` with that seed; the
        selection records its stream (``params["rng"]``). ``class_balance`` (``fallback`` or
        ``predicted``) balances on the project's current labels with its current model. With
        ``audit`` the uniform share (``random_fraction``) is recorded as audited images, which the
        accuracy estimate reads (the app's batches: ``audit_fraction``)."""
        from dataclasses import replace

        from ..picking.api import pick
        from ..picking.request import SelectionRequest, check_request, count
        from ..strategies import STRATEGIES

        settings = self.settings
        strategy = strategy or settings.get("strategy", DEFAULT_STRATEGY)
        if name is not None:
            name = check_name(name, "selection name")
        seed = None if seed is None else check_seed(seed)
        project_seed = check_seed(settings.get("seed", 0), "project seed")
        if n is None and total is None:
            n = int(settings.get("batch_size", 20))
        options = {k: params.pop(k) for k in ("random_fraction", "min_distance", "sampling", "beta", "class_balance")
                   if k in params}
        # checked before any file is read: the stream is named once the query's number is known
        req = SelectionRequest(strategy, n=n, total=total, params=params, seed=project_seed if seed is None else seed,
                               outputs="model", **options)
        if segmentation_model is None:
            req = check_request(req)
        if not getattr(self._local, "files_checked", False):  # next_batch has just checked them
            self.check_files()
        f = self._feature_table(progress)
        with self._read() as con:
            current = self._current_labels(con)
            labeled = set(current)
            members = None
            if subset is not None:
                if not con.execute("SELECT 1 FROM subsets WHERE name=?", (subset,)).fetchone():
                    raise UserError(f"no subset {subset!r} (defined: {sorted(self.subsets())})")
                members = {int(i) for (i,) in con.execute("SELECT item FROM subsets WHERE name=?", (subset,))}
            seq = (con.execute("SELECT MAX(seq) FROM selections").fetchone()[0] or 0) + 1
        is_lab = np.array([int(i) in labeled for i in f.ids])
        cand = ~is_lab if members is None else ~is_lab & np.array([int(i) in members for i in f.ids])
        if int(cand.sum()) == 0:
            raise UserError("no unlabeled image left to pick" + (f" in subset {subset!r}" if subset else ""))
        n = count(req, len(f.ids), int(is_lab.sum()), int(cand.sum()), up_to=True)
        info = self.model_info()
        model = self.model()
        head = model.head() if model is not None else None
        req = replace(req, stream=("pick",) if seed is not None else ("query", seq))
        progress(f"picking {n} image(s) with {strategy}", None)
        if segmentation_model is not None:
            sel = self._segmentation_pick(segmentation_model, dict(segmentation or {}), f, n, strategy, is_lab, cand,
                                          req, params)
            strategy = sel.strategy
        else:
            if head is None:
                try:
                    req = check_request(replace(req, outputs=None))
                except UserError as exc:
                    if exc.refs:  # the advice names sources of outputs a project does not take
                        raise UserError(f"{strategy} needs model outputs, and the project has no model yet: label "
                                        "images of at least 2 classes and fit one (LabelingProject.fit; the app and "
                                        "al-bench-select --project fit when the labels changed)") from None
                    raise
            # balancing counts the project's own labels, auto reads them; the model stays what it was fitted on
            given = None
            if req.class_balance != "none" or STRATEGIES.entry(strategy).meta.get("reads_labels", False):
                given = {k: current[int(i)] for k, i in zip(f.keys, f.ids) if int(i) in current}
            sel = pick(req, f.keys, f.x, labeled=is_lab, candidates=cand, model=head, up_to=True, labels=given)
        used = {**sel.params}
        audited = [int(i) for i in f.ids[sel.positions[~np.asarray(sel.by_strategy, bool)]]] if audit else []
        if audit:
            used["audit"] = len(audited)
        if head is not None and used.get("model") == "given head":
            used["model"] = f"the project's model, round {info['round']}" if info else "the project's model"
        created = now_utc()
        with self._tx() as con:
            if name is None:  # numbered in the writing transaction: two queries at once get two numbers
                name = f"query-{(con.execute('SELECT MAX(seq) FROM selections').fetchone()[0] or 0) + 1}"
            if con.execute("SELECT 1 FROM selections WHERE name=?", (name,)).fetchone():
                raise UserError(f"a selection named {name!r} exists; choose another name")
            lab_now = set(self._current_labels(con))
            if lab_now & {int(i) for i in f.ids[sel.positions]}:  # labeled meanwhile by another writer
                raise UserError("images were labeled while the query ran; query again")
            s = con.execute("INSERT INTO selections(name, strategy, params, subset, created, n_labeled, model_round) "
                            "VALUES(?,?,?,?,?,?,?)", (name, strategy, json.dumps(used, default=str), subset, created,
                                                      len(labeled), info["round"] if info and head else None)).lastrowid
            row_ids = f.ids[sel.positions]
            con.executemany("INSERT INTO selection_items VALUES(?,?,?,?)",
                            [(s, r, int(i), None if not np.isfinite(sc) else float(sc))
                             for r, (i, sc) in enumerate(zip(row_ids, sel.scores), start=1)])
            con.executemany("INSERT OR REPLACE INTO audit VALUES(?,?)", [(i, name) for i in audited])
        return NamedSelection(name, strategy, used, created, sel.ids, tuple(float(v) for v in sel.scores), subset,
                              len(labeled), info["round"] if info and head else None)

    def _segmentation_pick(self, model: Any, options: dict[str, Any], f: FeatureTable, n: int, strategy: str,
                           is_lab: np.ndarray, cand: np.ndarray, req, params: dict[str, Any]):
        """A segmentation recipe on the project's images (see :meth:`query`), on the request's
        stream; its seed also seeds the provider's dropout passes."""
        from dataclasses import replace

        from ..data.images import ImageFiles
        from ..picking.request import stream_name
        from ..segmentation.provider import load_segmentation_model
        from ..segmentation.select import select_with_model

        load_keys = ("arch", "num_classes", "device", "hook_layer")
        source = str(model) if isinstance(model, (str, Path)) else getattr(model, "name", type(model).__name__)
        unknown = set(options) - set(load_keys) - {"provider", "reduce", "topk_fraction", "mc_samples", "image_size",
                                                   "batch_size"}
        if unknown:
            raise UserError(f"segmentation options are arch, num_classes, device, hook_layer, provider, reduce, "
                            f"topk_fraction, mc_samples, image_size, batch_size; not {sorted(unknown)}")
        if isinstance(model, (str, Path)):
            model = load_segmentation_model(model, **{k: options.pop(k) for k in load_keys if k in options})
        sel, _ = select_with_model(model, ImageFiles(Path("/"), f.keys), n, strategy, labeled=is_lab, candidates=cand,
                                   features=f.x, seed=req.seed, cache_dir=self.folder / CACHE, progress=False,
                                   provider_options=options, rng=req.rng(), **params)
        return replace(sel, params={**sel.params, "seed": req.seed, "rng": stream_name(req.seed, req.stream),
                                    "segmentation_model": source})

    def next_batch(self, progress: Progress = quiet) -> NamedSelection | None:
        """The app's next batch: nothing while the last selection has unlabeled images; else the
        images labeled before their file changed (at most the batch size, named ``changed-<k>``,
        strategy ``changed``: they wait for a new label); else the project's strategy with the
        current model (before any model, the initial strategy), the batch size, named
        ``batch-<k>``. None when every image is labeled."""
        self.check_files()
        if self.batch_open():
            return None
        if not self.unlabeled_set:
            return None
        from ..strategies import needs_model

        s = self.settings
        strategy = s["strategy"]
        if self.model() is None and needs_model(strategy):
            strategy = s.get("initial_strategy", INITIAL_STRATEGY)
        if self.changed_labels():
            sel = self._changed_batch(int(s.get("batch_size", 20)))
            if sel is not None:
                return sel
        k = len([x for x in self.selections() if x.name.startswith("batch-")]) + 1
        name = f"batch-{k}"
        while name in {x.name for x in self.selections()}:
            k += 1
            name = f"batch-{k}"
        self._local.files_checked = True  # just checked above: the query need not stat them again
        try:
            share = float(s.get("audit_fraction", 0.0))
            extra = {"random_fraction": share, "audit": True} if share > 0 else {}
            return self.query(strategy, s.get("batch_size", 20), name=name, progress=progress, **extra)
        finally:
            self._local.files_checked = False

    def batch_open(self) -> bool:
        """Whether the last selection still has unlabeled images (the app's batch in progress)."""
        last = self.last_selection()
        if last is None:
            return False
        labels = self.labels
        return any(k not in labels for k in last.ids)

    def _changed_batch(self, n: int) -> NamedSelection | None:
        """A selection of at most ``n`` images labeled before their file changed (id order),
        ``changed-<k>``, so the app shows them to be labeled again; None when there are none."""
        with self._tx() as con:
            items = [i for (i,) in con.execute(f"SELECT l.item FROM labels l JOIN items i ON i.id = l.item "
                                               f"WHERE NOT {CURRENT_LABEL} ORDER BY l.item LIMIT ?", (n,))]
            if not items:
                return None
            names = {r[0] for r in con.execute("SELECT name FROM selections")}
            k = len([x for x in names if x.startswith("changed-")]) + 1
            while f"changed-{k}" in names:
                k += 1
            name = f"changed-{k}"
            why = "the image files changed after they were labeled; label them again"
            s = con.execute("INSERT INTO selections(name, strategy, params, subset, created, n_labeled, model_round) "
                            "VALUES(?,?,?,?,?,?,?)", (name, CHANGED_STRATEGY, json.dumps({"reason": why}), None, now_utc(),
                                                      len(self._current_labels(con)), None)).lastrowid
            con.executemany("INSERT INTO selection_items VALUES(?,?,?,?)",
                            [(s, r, i, None) for r, i in enumerate(items, start=1)])
            return self._selection(con, s, con.execute("SELECT * FROM selections WHERE seq=?", (s,)).fetchone())

    def _selection(self, con, seq: int, row) -> NamedSelection:
        keys = self._keys(con)
        items = con.execute("SELECT item, score FROM selection_items WHERE selection=? ORDER BY rank", (seq,)).fetchall()
        _, name, strategy, params, subset, created, n_lab, mround = row
        return NamedSelection(name, strategy, json.loads(params), created, tuple(keys[i] for i, _ in items),
                              tuple(float("nan") if s is None else s for _, s in items), subset, n_lab, mround)

    def _last_selection(self, con) -> NamedSelection | None:
        row = con.execute("SELECT * FROM selections ORDER BY seq DESC LIMIT 1").fetchone()
        return None if row is None else self._selection(con, row[0], row)

    def last_selection(self) -> NamedSelection | None:
        with self._read() as con:
            return self._last_selection(con)

    def selections(self) -> list[NamedSelection]:
        with self._read() as con:
            return [self._selection(con, r[0], r) for r in con.execute("SELECT * FROM selections ORDER BY seq").fetchall()]

    def selection(self, name: str) -> NamedSelection:
        with self._read() as con:
            row = con.execute("SELECT * FROM selections WHERE name=?", (name,)).fetchone()
            if row is None:
                raise UserError(f"no selection named {name!r}")
            return self._selection(con, row[0], row)

