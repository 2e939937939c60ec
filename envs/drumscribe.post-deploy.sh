#!/usr/bin/env bash
# Snakemake runs this once inside envs/drumscribe.yaml's fresh environment, from the working
# directory of the run: install this checkout of drumscribe into it, editable and without
# dependencies (the environment pins them), so rules import the same code the checkout holds.
# DRUMSCRIBE_ROOT names the checkout when the run's --directory is elsewhere.
set -euo pipefail
root=${DRUMSCRIBE_ROOT:-$PWD}
if [ ! -f "$root/pyproject.toml" ] || ! grep -q '^name = "drumscribe"' "$root/pyproject.toml"; then
  echo "drumscribe env: $root is not the drumscribe checkout; run from it or set DRUMSCRIBE_ROOT" >&2
  exit 1
fi
python -m pip install --no-deps --no-build-isolation -e "$root"
