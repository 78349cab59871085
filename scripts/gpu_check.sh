#!/usr/bin/env bash
# The GPU checks of the weight-space and discrete-baseline benchmarks, in one run of under 10 minutes on one GPU.
#   1. every weight-space classifier at its paper preset: a training step (forward + backward, batch 32) and
#      its peak memory on SIRENs up to the paper's 512 wide (leaderboards/weightspace_cost_gpu.md);
#   2. the time task at the paper presets for nf2vec, pointnet and dgcnn at 2,048 and 16,384 points, on a small
#      build of paper-size INRs (SIREN 3 -> 512 x4 -> 1) fitted on the same GPU (records under leaderboards/records;
#      `nfbench leaderboard build` adds them to leaderboards/timing.md, one table per device).
# Usage: scripts/gpu_check.sh [DEVICE]   (default cuda); run from the repository root after `pip install -e .`.
set -euo pipefail
cd "$(dirname "$0")/.."
DEVICE="${1:-cuda}"
python -m nfbench.bench.weightspace_cost --device "$DEVICE" --preset paper --widths 128,256,512 \
    --out leaderboards/weightspace_cost_gpu.md
time nfbench data build procshapes --preset paper --field udf --limit 2 --device "$DEVICE"
nfbench time --dataset procshapes-udf-paper-limit2 --methods nf2vec,mlp,stats --preset paper --device "$DEVICE"
nfbench time --dataset procshapes-udf-paper-limit2 --methods pointnet,dgcnn --resolutions 2048,16384 --preset paper \
    --device "$DEVICE"
nfbench leaderboard build
