#!/usr/bin/env bash
# Prepare the lent GPU machine (no network, no FluidSynth, no librosa/snakemake) for
# drumscribe runs. Source it from the repository root:  source benchmarks/gpu/setup_device.sh
# It expects two carried paths (see docs/benchmarks.md, "How the GPU runs were made"):
#   .whl/ or .whl.tar.xz   wheels of the packages missing there (snakemake, librosa, ...)
#   .carry.tar.xz    Debian's FluidSynth library closure, TimGM6mb.sf2 (the accompaniment's font), GMD MIDI,
#                    Hydrogen kits (sounds/drumkits) and/or compact kits (compact/, `drumscribe compact-kits`)
# Idempotent on a warm machine (keeps /tmp/site and /tmp/carry).
set -u
if [ ! -d /tmp/site/snakemake ]; then
  wheels=.whl
  if [ -f .whl.tar.xz ]; then  # make_carry.sh's packed copy of .whl/
    mkdir -p /tmp/whl && xz -dc .whl.tar.xz | tar -xf - -C /tmp/whl || return 1
    wheels=/tmp/whl/whl
  fi
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site "$wheels"/*.whl || return 1
fi
export PYTHONPATH=/tmp/site:$PWD/src
export PATH=/tmp/site/bin:$PATH
if [ ! -d /tmp/carry/gmd ]; then
  mkdir -p /tmp/carry && xz -dc .carry.tar.xz | tar -xf - -C /tmp/carry || return 1
fi
# sound sources where the kit registry looks for them (Debian's paths)
mkdir -p /usr/share/sounds/sf2 /usr/share/hydrogen/data/drumkits
cp -n /tmp/carry/sounds/sf2/* /usr/share/sounds/sf2/ 2>/dev/null
for k in /tmp/carry/sounds/drumkits/*; do [ -e "/usr/share/hydrogen/data/drumkits/$(basename "$k")" ] || cp -r "$k" /usr/share/hydrogen/data/drumkits/; done
# libfluidsynth and its dependencies, without the C/C++ runtime (the host's newer ones serve)
if [ ! -d /tmp/carry/fluidlib ]; then
  mkdir -p /tmp/carry/fluidlib
  for f in /tmp/carry/fluidsynth/lib/*; do
    case "$(basename "$f")" in libc.so*|libm.so*|libdl.so*|libpthread.so*|librt.so*|ld-linux*|libstdc++*|libgcc_s*|libresolv*) ;; *) cp "$f" /tmp/carry/fluidlib/ ;; esac
  done
fi
export LD_LIBRARY_PATH=/tmp/carry/fluidlib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export DRUMSCRIBE_GMD=/tmp/carry/gmd
# compact kits (`drumscribe compact-kits`), when carried, serve their kit ids (no sound fonts needed)
[ -d /tmp/carry/compact ] && export DRUMSCRIBE_COMPACT_KITS=/tmp/carry/compact
export PYTHONUNBUFFERED=1
# the 9 MDB dev tracks: their annotations (.mdb/) mark the dataset as present; their feature
# caches (results/features/mdb_drums*.h5, built here from the same code) are carried beside them,
# since the audio (53 MB) does not fit the transfer. Run snakemake with --rerun-triggers mtime.
if [ -d .mdb ] && [ ! -d "/tmp/carry/mdb/MDB Drums/annotations" ]; then
  mkdir -p "/tmp/carry/mdb/MDB Drums" && cp -r .mdb/annotations "/tmp/carry/mdb/MDB Drums/"
fi
