#!/usr/bin/env bash
# One entry point for a fresh machine: sets up .venv (and Open3D's system libraries), then runs
#   bash tools/run.sh demo [pcseg demo options]   the main job on the embedded synthetic default
#   bash tools/run.sh test [pytest options]       the test suite
#   bash tools/run.sh pcseg ARGS...               any pcseg command inside the environment
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
venv="$repo/.venv"
py="${PYTHON:-python3}"

system_libs() {
    # Open3D needs libusb to import; headless rendering needs Vulkan (llvmpipe on servers).
    local pkgs=(libusb-1.0-0 libvulkan1 mesa-vulkan-drivers) missing=() p
    command -v dpkg >/dev/null 2>&1 || return 0
    for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "== installing system libraries: ${missing[*]}"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    else
        echo "== Open3D needs system libraries; run once: sudo apt-get install -y ${missing[*]}" >&2
    fi
}

python_env() {
    local stamp="$venv/.pcseg-installed" want
    want="$(cat pyproject.toml tools/run.sh | sha1sum | cut -c1-16)"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return 0; fi
    echo "== setting up $venv"
    [ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
    "$venv/bin/python" -m pip install -q --upgrade pip 2>&1 | grep -v -i warning || true
    # torch first, pinned: 2.13.0+cpu is what open3d-cpu 0.20 is built against, and pinning it keeps
    # pip from pulling a multi-GB CUDA build on machines without a GPU.
    "$venv/bin/python" -m pip install -q "torch==2.13.0" 2>&1 | grep -v -i warning || true
    "$venv/bin/python" -m pip install -q -e ".[test,bench]" 2>&1 | grep -v -i warning || true
    "$venv/bin/python" -c "import torch, open3d, pcseg" || { echo "environment check failed" >&2; exit 1; }
    echo "$want" > "$stamp"
}

cmd="${1:-test}"; shift || true
system_libs
python_env
case "$cmd" in
    demo)  exec "$venv/bin/pcseg" demo "$@" ;;
    test)  exec "$venv/bin/python" -m pytest -q -p no:cacheprovider "$@" ;;
    pcseg) exec "$venv/bin/pcseg" "$@" ;;
    *) echo "usage: bash tools/run.sh {demo|test|pcseg} [args...]" >&2; exit 2 ;;
esac
