#!/usr/bin/env bash
# Create or update the project's virtual environment in .venv (idempotent, quick when up to date).
# torch==2.13.0 is installed first from the local CPU wheel, so nothing can pull a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
stamp=.venv/.syrisign-setup
want=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)
# the project's byte code, written even where PYTHONDONTWRITEBYTECODE is set: a new `syrisign translate`
# then reads it instead of compiling every module (about 0.1 s of each run); stale files are only rewritten
compile_project() { .venv/bin/python -m compileall -q syrisign retrieval render vqvae t2m_gpt motionclip >/dev/null || true; }
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && .venv/bin/python -c "import syrisign" 2>/dev/null; then
    compile_project
    exit 0
fi
echo "setting up .venv (first time: about 2 minutes, 2.8 GB)..." >&2
.venv/bin/pip install -q torch==2.13.0
.venv/bin/pip install -q -e ".[all,cluster,dev]"
.venv/bin/pip check >&2 || true
compile_project
echo "$want" > "$stamp"
echo "setup done" >&2
