#!/usr/bin/env bash
# The Fashion-MNIST quality figure (issue 3) with the students trained on a GPU machine, as run
# through the device tool: the catalog teacher is built there (15 epochs with shifts and flips),
# then bench/quality.py runs every seed of two variants side by side, one process each:
#   aug     --augment: shifted/flipped batches, the teacher online on every batch (and the
#           labels-only baseline on the same augmented batches)
#   cached  the engine's default: teacher outputs computed once, no augmentation
# Evaluation, latencies and the safety checks stay on the CPU (the engine moves the models back).
#
#   OUT=/tmp/out bash bench/gpu_quality.sh
#   DEVICE=cpu BUILD_ARGS=--quick QUALITY_ARGS="--epochs 1 --config max_train_examples=600" bash bench/gpu_quality.sh
#                                                   # a smoke run of the script itself on a CPU
#
# Needs what bench/quality.py needs. Where pydantic is missing (the lent GPU image), wheels in
# .whl/ are installed with --target; Fashion-MNIST is read from .gpu/fashion-mnist when the Debian
# package is not installed (PRSM_FASHION_MNIST_DIR).
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-$(mktemp -d)}
SECONDS_LEFT=${SECONDS_LEFT:-480}
mkdir -p "$OUT"
if ! "${PY:-python3}" -c "import pydantic" 2>/dev/null && ls .whl/*.whl >/dev/null 2>&1; then
  pip install --quiet --no-deps --target /tmp/site .whl/*.whl 2>&1 | tail -1
fi
export PYTHONPATH=/tmp/site:$PWD PRSM_HOME=${PRSM_HOME:-/tmp/prsm-home} HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
[ -d /usr/share/datasets/fashion-mnist ] || export PRSM_FASHION_MNIST_DIR=$PWD/.gpu/fashion-mnist
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader > "$OUT/gpu.txt" 2>&1
start=$(date +%s)
"${PY:-python3}" -m prsm.cli catalog build fashion-cnn ${BUILD_ARGS:-} > "$OUT/build.log" 2>&1
echo "teacher built in $(( $(date +%s) - start )) s: $(tail -c 300 "$OUT/build.log" | tr '\r' '\n' | tail -1)"
left=$(( SECONDS_LEFT - ($(date +%s) - start) ))
for variant in aug cached; do
  for seed in 0 1 2; do
    flag=""; [ "$variant" = aug ] && flag="--augment"
    OMP_NUM_THREADS=${THREADS:-2} timeout "$left" "${PY:-python3}" bench/quality.py --case fashion ${QUALITY_ARGS:---full} --device "${DEVICE:-cuda}" --seeds "$seed" \
      $flag --out "/tmp/q-$variant-$seed" --json "$OUT/fashion-$variant-$seed.json" \
      > "$OUT/fashion-$variant-$seed.log" 2>&1 &
  done
done
wait
echo "all runs ended after $(( $(date +%s) - start )) s"
for f in "$OUT"/fashion-*.log; do echo "== $f"; grep -E "^\| [0-9]" "$f" | head -3; grep -E "Error|Traceback" "$f" | tail -3; done
