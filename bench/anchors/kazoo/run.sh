#!/usr/bin/env bash
# Runs the kazoo anchor harness with Debian's python3-kazoo, through the system interpreter
# (/usr/bin/python3, not a pyenv or venv one that lacks Debian's packages). KAZOO_PYTHON
# picks another interpreter, e.g. a venv holding a newer kazoo. Arguments are passed on.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
python="${KAZOO_PYTHON:-/usr/bin/python3}"
if ! "$python" -c 'import kazoo' 2>/dev/null; then
  echo "$python cannot import kazoo: apt-get install python3-kazoo (or set KAZOO_PYTHON)" >&2
  exit 2
fi
exec "$python" "$here/anchor_kazoo.py" "$@"
