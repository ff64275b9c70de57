#!/usr/bin/env bash
# Make .venv/ with al_bench installed (editable, with the dev and notebook extras). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")"

# torch and torchvision must come from the same release pair; a CPU-only torch wheel
# cannot be paired with torchvision, so both are installed together from the registry.
TORCH_SPEC="${AL_BENCH_TORCH_SPEC:-torch==2.14.1 torchvision==0.29.2}"
PY="${PYTHON:-python3}"

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $($PY --version)"
  "$PY" -m venv .venv
else
  echo "setup: .venv exists, reusing it"
fi
VPY=.venv/bin/python

if $VPY - "$TORCH_SPEC" <<'PYEOF' 2>/dev/null; then
import sys
from importlib.metadata import version
want = dict(s.split("==") for s in sys.argv[1].split())
have = {name: version(name).split("+")[0] for name in want}
sys.exit(0 if have == want else 1)
PYEOF
  echo "setup: $TORCH_SPEC already installed"
else
  echo "setup: installing $TORCH_SPEC (large download the first time)"
  $VPY -m pip install --quiet --upgrade pip
  # shellcheck disable=SC2086
  $VPY -m pip install --quiet $TORCH_SPEC
fi

echo "setup: installing al_bench (editable) with dev and notebook extras"
# shellcheck disable=SC2086
$VPY -m pip install --quiet -e ".[dev,notebook]" $TORCH_SPEC

$VPY - <<'PYEOF'
import torch, torchvision, faiss, hydra, al_bench
print(f"setup: done. al_bench {al_bench.__version__}, torch {torch.__version__}, "
      f"torchvision {torchvision.__version__}, faiss {faiss.__version__}, hydra {hydra.__version__}")
PYEOF
# -- data: link BDD100K if we know where it is, else fetch CIFAR-10; offline is fine (digits) --
DATA_DIR="${AL_BENCH_DATA_DIR:-data}"
mkdir -p "$DATA_DIR"
sibling() {  # an existing sibling checkout's copy of $1 under data/
  for d in ../*/data/"$1"; do
    if [ -e "$d" ] && [ "$(cd "$d" && pwd -P)" != "$(cd "$DATA_DIR" && pwd -P)/$1" ]; then echo "$d"; return; fi
  done
}
if [ -n "${AL_BENCH_SKIP_DATA:-}" ]; then
  echo "setup: data step skipped (AL_BENCH_SKIP_DATA is set)"
elif [ -n "${BDD100K_DIR:-}" ] && [ -d "$BDD100K_DIR" ]; then
  ln -sfn "$(cd "$BDD100K_DIR" && pwd -P)" "$DATA_DIR/bdd100k"
  echo "setup: linked BDD100K from $BDD100K_DIR to $DATA_DIR/bdd100k"
elif [ -e "$DATA_DIR/bdd100k" ]; then
  echo "setup: BDD100K is at $DATA_DIR/bdd100k"
elif [ -n "$(sibling bdd100k)" ]; then
  ln -sfn "$(cd "$(sibling bdd100k)" && pwd -P)" "$DATA_DIR/bdd100k"
  echo "setup: linked BDD100K from $(sibling bdd100k)"
elif [ -e "$DATA_DIR/cifar10/cifar-10-batches-py" ]; then
  echo "setup: CIFAR-10 is at $DATA_DIR/cifar10"
elif [ -n "$(sibling cifar10)" ]; then
  ln -sfn "$(cd "$(sibling cifar10)" && pwd -P)" "$DATA_DIR/cifar10"
  echo "setup: linked CIFAR-10 from $(sibling cifar10)"
else
  # prints one line either way; offline it fails fast and setup still succeeds
  $VPY -m al_bench.data download-cifar10 "$DATA_DIR/cifar10" || true
fi

echo "setup: next: .venv/bin/python -m al_bench -m experiment=smoke   (tests: .venv/bin/python -m pytest)"
