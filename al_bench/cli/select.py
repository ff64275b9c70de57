"""al-bench-select: pick the next images to label from a folder, and hand them off.

    al-bench-select --images-dir DIR -n 50 --strategy kcenter [--labeled labeled.csv]
                    [--predictions preds.csv|.npy|.npz] [--embedder auto] [--out DIR]
    al-bench-select --project DIR -n 20 [--strategy margin] [--subset NAME] [--selection-name NAME]
    al-bench-select --features emb.parquet|emb.npz|emb.npy -n 1000 [--images-dir DIR] [--sample N]

Scans DIR recursively (.jpg .jpeg .png .webp .bmp; ids are POSIX paths relative to DIR, hidden
entries ignored), skips unreadable files (listed in OUT/unreadable.csv), leaves out the folders
this command wrote (marked with a .al_bench_output file), links leading outside DIR (unless
--follow-links) and names that are not valid UTF-8 (listed in unreadable.csv too), drops too-dark or
blown-out images when asked, embeds the rest (cached per folder, so a second call with another
strategy only scores), runs a registered strategy (as al_bench.select does) and writes

    OUT/selection.csv         rank, id, score, strategy
    OUT/selection.yaml        the hand-off: strategy, parameters, source, counts, ids
    OUT/mosaic.png            a preview grid of the picks with their ids
    OUT/label_studio.json     a Label Studio task import (one task per pick)
    --copy-to DIR             the picked files copied (or --link'ed) under their relative paths

--task says what the model predicts: classification (the default) ranks with --strategy, on
the images' embeddings and/or class probabilities; detection and segmentation rank by a
per-image --scorer over the model's boxes or per-pixel maps, no embedding needed.

Model outputs for uncertainty strategies come from --predictions or from a linear head trained
on the --labeled images' features (labels in the CSV's "label" column). Predictions formats:
  .csv   an "id" column and one probability column per class (rows sum to 1)
  .npz   arrays "ids" (N,) and "probs" (N, C) or MC-dropout samples (K, N, C)
  .npy   (N, C) or (K, N, C), rows in the sorted order of all image files (see --list-ids)
  with --task detection: JSON Lines (or a JSON list) of {"id", "boxes", "objectness", "probs"}
  with --task segmentation: .npz of per-pixel probability maps, reduced per image by --scorer-param

--features FILE takes your own embeddings instead of embedding the images (ids + vectors; see
--features below); without --images-dir the selection runs on the ids alone. --sample N runs
the strategy on N candidates drawn uniformly: the approximate mode for very large pools.

--project DIR picks from an al-bench-label project: its images, labels, embedder and model
(refitted first when the labels changed, as the app does); the picks are kept in the project
as a named selection and written to OUT as from a folder (ids: absolute paths).

Label Studio: the default image URLs are its local-files server's, /data/local-files/?d=PATH,
PATH being --images-dir relative to Label Studio's LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT
(give it with --label-studio-document-root; default /). Start Label Studio with
LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED=true and that document root, and add a Local Storage
(project Settings > Cloud Storage > Add Source Storage > Local files) whose path is --images-dir
before importing label_studio.json.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from ..errors import UserError
from .select_flags import build_parser, check_folder_target, coerce, flag_for, kv
from .select_tasks import model_checks, project_options

__all__ = ["main", "run", "build_parser", "flag_for"]


def _say(msg: str) -> None:
    print(f"al-bench-select: {msg}", file=sys.stderr, flush=True)


def check_args(args: argparse.Namespace):
    """(the checked request, the folder selection's options, strategy or recipe parameters,
    embedder options): every check that needs no image, so a mistake never costs an embedding."""
    from ..picking.from_folder import FolderPick
    from ..picking.inputs import has_labels
    from ..picking.request import SelectionRequest, check_request
    from ..strategies import STRATEGIES

    if args.n is None:
        raise UserError("give how many images to pick (a count >= 1)", key="n")
    for flag, value in (("--min-brightness", args.min_brightness), ("--max-brightness", args.max_brightness)):
        if value is not None and not (0.0 <= value <= 255.0):  # NaN fails every comparison
            raise UserError(f"{flag} {value}: give a number in [0, 255]")
    _features_checks(args)
    if args.images_dir is None and args.features is None:
        raise UserError("--images-dir: give the folder of images (or --project DIR, or --features FILE)")
    if args.link and not args.copy_to:
        raise UserError("--link needs --copy-to DIR")
    for flag, folder in (("--out", args.out), ("--copy-to", args.copy_to)):
        if folder is not None:
            check_folder_target(flag, folder.expanduser())
            if args.images_dir is not None and folder.expanduser().resolve() == args.images_dir.expanduser().resolve():
                raise UserError(f"{flag} {folder}: is --images-dir itself; write to another folder (a subfolder is "
                                "fine: output folders are marked and left out of every scan)")
    if args.images_dir is not None:
        _label_studio_checks(args, args.images_dir.expanduser().resolve())
    if args.target_folder is not None:
        if not args.target_folder.expanduser().is_dir():
            raise UserError(f"--target-folder {args.target_folder}: not a folder")
        if args.task != "classification" or (args.strategy or "kcenter") != "epig":
            raise UserError("--target-folder is for --strategy epig (with --param target=heldout)")
    if args.model is not None and args.task != "segmentation":
        raise UserError("--model is for --task segmentation")
    seed = args.seed = 0 if args.seed is None else args.seed  # the network's dropout passes read it too
    emb_opts = kv(args.embedder_opt, "--embedder-opt")
    if args.task == "classification":
        args.strategy = args.strategy or "kcenter"
        if args.strategy not in STRATEGIES:
            raise UserError(f"{args.strategy} is a segmentation recipe; it needs --task segmentation --model",
                            key="strategy")
        if args.scorer or args.scorer_param:
            raise UserError("--scorer and --scorer-param are for --task detection or segmentation")
        params = coerce(kv(args.param, "--param"), STRATEGIES.options(args.strategy), "--param")
        source = "probs" if args.predictions else "labels" if has_labels(args.labeled) else None
        req = check_request(SelectionRequest(args.strategy, n=args.n, params=params, seed=seed, outputs=source,
                                             random_fraction=args.random_fraction, min_distance=args.min_distance,
                                             class_balance=args.class_balance, sample=args.sample))
        from ..embedders import EMBEDDERS

        if args.embedder not in EMBEDDERS:
            raise UserError(f"--embedder {args.embedder}: unknown; choose one of {sorted(EMBEDDERS)}")
        EMBEDDERS.check_options(args.embedder, emb_opts)
        emb_opts = coerce(emb_opts, EMBEDDERS.options(args.embedder), "--embedder-opt")
    else:  # the task's ranking (or recipe) replaces the strategy; the request keeps n and the seed
        seg = args.task == "segmentation" and args.model is not None
        not_here = [("--min-distance", args.min_distance), ("--random-fraction", args.random_fraction or None),
                    ("--class-balance", args.class_balance != "none")]
        not_here += [("--predictions", args.predictions), ("--scorer", args.scorer)] if seg else \
            [("--strategy", args.strategy), ("--param", args.param)]
        given = [f for f, v in not_here if v]
        if given:
            raise UserError(f"--{'model runs the network' if seg else f'task {args.task} ranks by --scorer'}; "
                            f"{', '.join(given)} do(es) not apply")
        if not seg and (not args.predictions or not args.scorer):
            raise UserError(f"--task {args.task} needs --predictions FILE and --scorer NAME")
        params = model_checks(args) if seg else {}
        req = check_request(SelectionRequest("random", n=args.n, seed=seed))
    names = ("images_dir", "out", "labeled", "predictions", "task", "scorer", "embedder", "min_brightness",
             "max_brightness", "copy_to", "link", "label_studio_prefix", "label_studio_document_root", "follow_links",
             "quiet", "target_folder", "features", "feature_ids", "features_column")
    opts = FolderPick(**{k: getattr(args, k) for k in names}, cache_dir=_cache_dir(args), embedder_options=emb_opts,
                      scorer_options=kv(args.scorer_param, "--scorer-param"))
    return req, opts, params, emb_opts


def _features_checks(args: argparse.Namespace) -> None:
    """--features and what it excludes: an embedder, a task's ranking, a target folder; without
    --images-dir, whatever needs the image files."""
    if args.features is None:
        given = [f for f, v in (("--feature-ids", args.feature_ids), ("--features-column", args.features_column)) if v]
        if given:
            raise UserError(f"{', '.join(given)}: only with --features FILE")
        return
    not_here = [("--embedder", args.embedder != "auto"), ("--embedder-opt", args.embedder_opt),
                ("--target-folder", args.target_folder), ("--task", args.task != "classification")]
    if args.images_dir is None:
        not_here += [("--copy-to", args.copy_to), ("--min-brightness", args.min_brightness is not None),
                     ("--max-brightness", args.max_brightness is not None),
                     ("--label-studio-document-root", args.label_studio_document_root), ("--list-ids", args.list_ids)]
    given = [f for f, v in not_here if v]
    if given:
        why = "the vectors are given" if args.images_dir is not None else "there are no image files without --images-dir"
        raise UserError(f"{', '.join(given)} do(es) not apply with --features ({why})", key="--features")


def _label_studio_checks(args: argparse.Namespace, root: Path) -> None:
    if args.label_studio_document_root is not None:
        if args.label_studio_prefix is not None:
            raise UserError("--label-studio-prefix and --label-studio-document-root both set the image URLs; "
                            "give one")
        from ..picking.sinks import local_files_prefix

        # the images must lie strictly below it; errors name the folder as given
        local_files_prefix(root, args.label_studio_document_root, given=args.images_dir.expanduser())


def _cache_dir(args: argparse.Namespace) -> Path:
    from ..picking.folder import default_cache_dir

    return (args.cache_dir or default_cache_dir()).expanduser()


def run(args: argparse.Namespace) -> Path:
    """The command on a folder: checks, then :func:`al_bench.picking.from_folder.pick_folder`."""
    from ..picking.folder import find_images
    from ..picking.from_folder import pick_folder

    if args.features is not None and args.images_dir is None:
        from ..picking.from_folder import pick_features

        req, opts, _, _ = check_args(args)
        return pick_features(req, opts, _say)
    if args.list_ids:
        # flushed here, so a reader that stopped early (`| head`) is seen in main, not at exit
        excluded = [args.out] + ([args.copy_to] if args.copy_to else [])
        print("\n".join(find_images(args.images_dir, excluded, _say, follow_links=args.follow_links)[1]), flush=True)
        return args.images_dir
    req, opts, params, emb_opts = check_args(args)
    from .select_tasks import model_pick, score_pick

    ranking = None
    if args.task == "segmentation" and args.model is not None:
        ranking = model_pick(args, params, emb_opts, opts.cache_dir, _say)
    elif args.task != "classification":
        ranking = score_pick(args, req, opts)
    return pick_folder(req, opts, _say, ranking)


PROJECT_EXCLUDES = ("images_dir", "labeled", "predictions", "min_distance", "min_brightness", "max_brightness",
                    "list_ids", "target_folder", "features", "feature_ids", "features_column")


def run_project(args: argparse.Namespace) -> Path:
    """``--project DIR``: the project's refit policy and query (kept in the project), then the
    same sinks as a folder selection."""
    from ..labeling import LabelingProject
    from ..picking.sinks import write_sinks

    given = [k for k in PROJECT_EXCLUDES if getattr(args, k) not in (None, False)]
    seg = args.task == "segmentation" and args.model is not None
    if (args.task != "classification" and not seg) or args.embedder != "auto" or args.embedder_opt:
        given.append("task/embedder")
    if given:
        flags = ", ".join("--" + k.replace("_", "-") for k in given)
        raise UserError(f"{flags}: the project supplies its images, labels, embedder and model; drop these flags",
                        key="--project")
    if args.n is None:
        raise UserError("give how many images to pick (a count >= 1)", key="n")
    if args.link and not args.copy_to:
        raise UserError("--link needs --copy-to DIR")
    for flag, folder in (("--out", args.out), ("--copy-to", args.copy_to)):
        if folder is not None:
            check_folder_target(flag, folder.expanduser())
    project = LabelingProject.open(args.project.expanduser(), create=False)
    if args.label_studio_document_root is not None:  # checked before the query is kept in the project
        from ..picking.sinks import local_files_prefix

        if args.label_studio_prefix is not None:
            raise UserError("--label-studio-prefix and --label-studio-document-root both set the image URLs; give one")
        local_files_prefix(project.images_root(), args.label_studio_document_root,
                           folder="the project's images folder")
    seg_options, params = None, {}
    if seg:
        if args.random_fraction or args.class_balance != "none":
            raise UserError("--random-fraction and --class-balance do not apply to the segmentation recipes")
        params = model_checks(args)
        seg_options = project_options(args)
    else:
        from ..strategies import STRATEGIES

        args.strategy = args.strategy or project.settings.get("strategy") or "kcenter"
        params = coerce(kv(args.param or [], "--param"), STRATEGIES.options(args.strategy), "--param")
        if args.random_fraction:
            params["random_fraction"] = args.random_fraction
        if args.class_balance != "none":
            params["class_balance"] = args.class_balance
        rep = project.refit_if_needed()
        if rep is not None:
            _say(f"fitted the project's model on {rep.n_labeled} labels (round {rep.round}) in {rep.fit_seconds:.1f} s")
    sel = project.query(args.strategy, args.n, subset=args.subset, name=args.selection_name, seed=args.seed,
                        segmentation_model=args.model if seg else None, segmentation=seg_options, **params)
    write_sinks(project.selection_result(sel, args.n, label_studio_prefix=args.label_studio_prefix,
                                         label_studio_root=args.label_studio_document_root, copy_to=args.copy_to,
                                         link=args.link), args.out.expanduser())
    _say(f"picked {len(sel.ids)} image(s) with {sel.strategy}; kept in {project.folder} as selection {sel.name!r}; "
         f"wrote {args.out}/selection.csv, selection.yaml, mosaic.png, label_studio.json")
    return args.out.expanduser()


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        run_project(args) if args.project is not None else run(args)
    except UserError as exc:
        print(f"al-bench-select: error: {exc.worded(flag_for)}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # stdout closed by its reader (`--list-ids | head`): stop quietly
        import os

        # the interpreter flushes stdout at exit; pointed at devnull, that flush cannot fail again
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)
        return 141  # 128 + SIGPIPE, what a command killed by the closed pipe reports
    return 0


if __name__ == "__main__":
    sys.exit(main())
