#!/usr/bin/env bash
# The check a machine with a GPU runs, in under 10 minutes on one modern GPU (each step prints its figures):
#   1. the environment: Python, torch, the GPU, bfloat16 support;
#   2. install: a venv that sees the machine's CUDA build of torch (--system-site-packages), this package
#      installed into it without dependencies or network (what the machine lacks is named, not fetched);
#   3. the tests that need CUDA (tests/test_cuda.py) and the device tests that fake one (test_training_devices.py);
#   4. the training-throughput table of the baseline/BSConv pairs with --amp --channels-last, then with --compile;
#   5. a two-epoch CIFAR-shaped run (synthetic data in CIFAR's format) stopped after epoch 1 and resumed, against
#      an uninterrupted one, both --deterministic: the weights must be equal; then `blueprint evaluate`;
#   6. the ImageFolder loader's images/s per worker on this machine's cores.
# usage: scripts/gpu_check.sh [--dry-run] [--smoke] [OUT]
#   --dry-run  print the steps, run nothing
#   --smoke    steps 1, 4, 5 and 6 on the CPU at toy sizes with the current Python, without --amp --channels-last
#              and step 4's --compile (the test suite runs this, so the script cannot rot)
#   OUT        where runs and data go (default runs/gpu_check); PYTHON names the interpreter (default python3)
set -euo pipefail
cd "$(dirname "$0")/.."
dry=0 smoke=0 out=runs/gpu_check
for arg in "$@"; do
    case "$arg" in
        --dry-run) dry=1 ;;
        --smoke) smoke=1 ;;
        -*) echo "gpu_check.sh: unknown option $arg (expected --dry-run, --smoke)" >&2; exit 2 ;;
        *) out="$arg" ;;
    esac
done
python="${PYTHON:-python3}"

failed=()
step() {  # print a step's command line, then run it (unless --dry-run); a failure is noted and the check goes on
    echo "+ $*"
    if [ "$dry" = 0 ] && ! "$@"; then
        failed+=("$*")
        echo "gpu_check.sh: FAILED: $*" >&2
    fi
}

if [ "$smoke" = 1 ]; then
    device=cpu epochs_data="48 16" pairs=digits_cnn:digits_cnn_bsconvu steps=1 batch=16 model=cifar_tiny_cnn_bsconvs_p1d2
    py="$python" speed=()  # bfloat16 autocast on a CPU is slow: the smoke run checks the steps, not the speed
else
    device=cuda epochs_data="8192 2048" pairs="" steps=10 batch=128 model=cifar_resnet20_bsconvu
    py=.venv-gpu/bin/python speed=(--amp --channels-last)
fi
bp=("$py" -m blueprint.cli)

echo "== 1. environment"
step "$python" -c "import sys, torch
gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
bf16 = [torch.cuda.get_device_capability(i) >= (8, 0) for i in range(torch.cuda.device_count())]
print('Python', sys.version.split()[0], 'torch', torch.__version__, 'CUDA', torch.version.cuda, 'GPUs', gpus, 'bf16', bf16)"

if [ "$smoke" = 0 ]; then
    echo "== 2. install"
    step "$python" -m venv --system-site-packages .venv-gpu
    step .venv-gpu/bin/pip install --quiet --no-deps --no-build-isolation -e .
    step "$py" -c "import importlib.util as u
needed = ('numpy', 'numba', 'torch', 'matplotlib', 'sklearn', 'threadpoolctl', 'PIL', 'pytest', 'hypothesis')
missing = [m for m in needed if u.find_spec(m) is None]
print('modules missing from the machine:', ', '.join(missing) or 'none')
raise SystemExit(bool(missing))"

    echo "== 3. tests that need a GPU"
    step "$py" -m pytest -q -ra tests/test_cuda.py tests/test_training_devices.py
fi

echo "== 4. training throughput (images/s), baseline against BSConv"
step "${bp[@]}" bench training --device "$device" "${speed[@]}" --batch-size "$batch" --steps "$steps" --warmup 1 \
    ${pairs:+--pairs "$pairs"}
if [ "$smoke" = 0 ]; then
    step "${bp[@]}" bench training --device "$device" --amp --channels-last --compile --batch-size "$batch" \
        --steps "$steps"
fi

echo "== 5. two epochs, resumed after the first, against an uninterrupted run (--deterministic)"
read -r n_train n_test <<< "$epochs_data"
step "$py" -c "import shutil, sys
from pathlib import Path
sys.path.insert(0, '.')
from tests.training_data import write_cifar10
shutil.rmtree('$out/data', ignore_errors=True)
write_cifar10(Path('$out/data'), $n_train, $n_test)"
common=(--dataset cifar10 --data-dir "$out/data" --model "$model" --batch-size "$batch" --device "$device"
        "${speed[@]}" --deterministic --overwrite)
step "${bp[@]}" train "${common[@]}" --epochs 2 --output-dir "$out/straight"
step "${bp[@]}" train "${common[@]}" --epochs 1 --output-dir "$out/resumed"
step "${bp[@]}" train --resume --epochs 2 --output-dir "$out/resumed"
step "$py" -c "import torch; from blueprint.training import load_checkpoint as load
a, b = (load('$out/' + r + '/last.pt')['model'] for r in ('straight', 'resumed'))
same = all(torch.equal(a[k], b[k]) for k in a); print('resumed weights equal the uninterrupted run\'s:', same)
raise SystemExit(not same)"
step "${bp[@]}" evaluate "$out/resumed/last.pt" --device "$device"

echo "== 6. ImageFolder loading per worker"
if [ "$smoke" = 1 ]; then
    step "${bp[@]}" bench loader --quick
else
    step "${bp[@]}" bench loader
fi
if [ "${#failed[@]}" -gt 0 ]; then
    echo "gpu_check.sh: ${#failed[@]} step(s) failed:" >&2
    printf '  %s\n' "${failed[@]}" >&2
    exit 1
fi
echo "gpu_check.sh: every step passed"
