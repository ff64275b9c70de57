#!/usr/bin/env bash
# Issue 25's long-tail study: every strategy and the mitigations on long-tailed pools, 10 seeds.
#   bash bench/long_tail_study.sh OUT_ROOT [SLICE ...]
# A slice is DATA_POOL_SCHEDULE, e.g. digits_lt100_low, cifar_lt10_standard, cifar_bdd_low. Each
# slice writes OUT_ROOT/<slice> (every strategy; margin with class_balance=fallback and
# predicted; margin softmax beta=20) and OUT_ROOT/<slice>_lure (random and margin softmax beta=20
# with model.weighting=lure), aggregates both on accuracy, balanced accuracy and worst-class
# recall, and appends
# its wall time to OUT_ROOT/walls.tsv; a sweep that exits non-zero is noted in OUT_ROOT/failures.txt
# and the study goes on (rerunning a slice runs only what did not finish). Needs ../shared/datasets/cifar10_subset.npz for cifar.
set -euo pipefail
ROOT=${1:?usage: long_tail_study.sh OUT_ROOT SLICE...}; shift
PY=${PY:-.venv/bin/python}
CIFAR_NPZ=${CIFAR_NPZ:-../shared/datasets/cifar10_subset.npz}
COMMON="hydra/launcher=joblib hydra.launcher.n_jobs=2 threads=1 seed=0,1,2,3,4,5,6,7,8,9"
mkdir -p "$ROOT"
for slice in "$@"; do
  IFS=_ read -r data pool schedule <<<"$slice"
  case $data in
    digits) DATA="dataset=digits embedder=pixels" ;;
    cifar) DATA="dataset=npz dataset.path=$CIFAR_NPZ embedder=kmeans_patches" ;;
    *) echo "unknown data in $slice" >&2; exit 2 ;;
  esac
  case $pool in
    lt*) POOL="dataset.imbalance.ratio=${pool#lt}" ;;
    bdd) POOL="dataset.imbalance.proportions=bdd100k_weather" ;;
    *) echo "unknown pool in $slice" >&2; exit 2 ;;
  esac
  ARGS="$COMMON $DATA $POOL budget=$schedule"
  OUT=$ROOT/$slice; LURE=$ROOT/${slice}_lure
  t0=$(date +%s)
  # a sweep with a failed run exits non-zero: note it and go on (its runs are listed by aggregation)
  sweep() { $PY -m al_bench -m $ARGS "$@" || echo "$slice: sweep exited $?: $*" >>"$ROOT/failures.txt"; }
  sweep paths.outputs_dir="$OUT" 'strategy=glob(*)'
  sweep paths.outputs_dir="$OUT" strategy=margin strategy.class_balance=fallback,predicted
  sweep paths.outputs_dir="$OUT" strategy=margin strategy.sampling=softmax strategy.beta=20
  sweep paths.outputs_dir="$LURE" model.weighting=lure strategy=random
  sweep paths.outputs_dir="$LURE" model.weighting=lure strategy=margin strategy.sampling=softmax strategy.beta=20
  t1=$(date +%s)
  for d in "$OUT" "$LURE"; do
    $PY -m al_bench.report "$d" --metric accuracy balanced_accuracy worst_class_recall || true
  done
  printf '%s\t%s\t%s\n' "$slice" "$((t1 - t0))" "$(git rev-parse --short HEAD)" >>"$ROOT/walls.tsv"
done
