#!/usr/bin/env bash
# One-time set-up on a fresh Debian/Ubuntu machine: system packages (FluidSynth, the
# sound fonts and drum kits the offline default renders with) and a virtual
# environment in .venv with drumscribe, Snakemake and the test tools.
# Idempotent: a second run only checks. Needs root (or sudo) for apt-get.
set -euo pipefail
cd "$(dirname "$0")"

APT_PACKAGES="fluidsynth fluid-soundfont-gm musescore-general-soundfont timgm6mb-soundfont csound-soundfont avldrums.lv2-soundfont hydrogen-drumkits lmms-common libsndfile1 ffmpeg lame vorbis-tools guitarix-common jconvolver-config-files hydrogen-data timidity freepats fretsonfire-songs-muldjord fretsonfire-songs-sectoid planetblupi-music-midi"
APT_PACKAGES="$APT_PACKAGES graphviz"  # dot: draws the rule graph (docs/workflow.md)
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
missing=""
for p in $APT_PACKAGES; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  echo "setup: installing Debian packages:$missing"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# exadrums' one acoustic kit (8 WAVs and Default.xml, BSD-3-Clause): the package itself would pull in
# GTK 3 and gtkmm for its GUI (13 packages), so only its data and copyright are unpacked from the .deb.
if [ ! -f /usr/share/exadrums/Default.xml ] || [ ! -f /usr/share/doc/exadrums/copyright ]; then
  echo "setup: unpacking exadrums' drum samples (its data only, not the GUI's dependencies)"
  deb_dir=$(mktemp -d)
  trap 'rm -rf "$deb_dir"' EXIT
  # package lists may be absent on a fresh machine whose other packages were all there
  (cd "$deb_dir" && { apt-get download -qq exadrums 2>/dev/null || { $SUDO apt-get update -qq && apt-get download -qq exadrums; }; })
  dpkg-deb --fsys-tarfile "$deb_dir"/exadrums_*.deb | $SUDO tar -x -C / ./usr/share/exadrums ./usr/share/doc/exadrums
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PY" -m venv .venv
fi
if ! .venv/bin/python -c "import drumscribe, snakemake, torch" >/dev/null 2>&1; then
  echo "setup: installing Python packages into .venv"
  .venv/bin/pip install -q --upgrade pip
  # the CPU wheel of torch; another version pulls multi-GB CUDA builds
  .venv/bin/pip install -q "torch==2.13.0"
  .venv/bin/pip install -q -e ".[workflow,test]"
fi
echo "setup: ready (.venv/bin/snakemake, .venv/bin/drumscribe, .venv/bin/pytest)"
