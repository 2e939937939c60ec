#!/usr/bin/env bash
# Build the ignored files a GPU run carries (docs/benchmarks.md, "How the GPU runs were made"),
# on the dev machine, from the repository root after `bash setup.sh`:
#   bash benchmarks/gpu/make_carry.sh [PRESET.yaml]     (default config/presets/release_gpu.yaml)
# writes
#   .whl/            py3.12 wheels of what the GPU image lacks (benchmarks/gpu/device-wheels.txt),
#                    kept here; what travels is .whl.tar.xz (the same wheels, stored, packed by xz)
#   .carry.tar.xz    libfluidsynth.so.3 and its library closure (no C runtime), TimGM6mb.sf2 (the accompaniment's
#                    font), the GMD MIDI, and the preset's kits as compact copies (compact/)
#   .mdb/            the MDB dev tracks' annotations (their feature caches are carried beside them:
#                    results/features/mdb_drums.h5 and mdb_drums_drum_only.h5, built here by the graph)
# and keeps them out of git (.git/info/exclude). Then: run(carry=[".whl.tar.xz", ".carry.tar.xz", ".mdb",
# "results/features/mdb_drums.h5", "results/features/mdb_drums_drum_only.h5"], ...).
set -euo pipefail
preset=${1:-config/presets/release_gpu.yaml}
shared=${DRUMSCRIBE_SHARED:-../shared}
for p in /.whl/ /.whl.tar.xz /.carry.tar.xz /.mdb/; do grep -qxF "$p" .git/info/exclude || echo "$p" >> .git/info/exclude; done

mkdir -p .whl
grep -v '^#' benchmarks/gpu/device-wheels.txt | while read -r req; do
  name=${req%%==*}; version=${req#*==}
  ls .whl/"${name}-${version}"-*.whl >/dev/null 2>&1 && continue
  # a binary wheel for the GPU machine's Python 3.12, else one built here from the sdist (pure Python)
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
      --platform manylinux_2_28_x86_64 --platform manylinux_2_24_x86_64 --platform manylinux_2_17_x86_64 \
      --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .whl "$req" 2>/dev/null \
    || .venv/bin/python -m pip wheel -q --no-deps -w .whl "$req"
done
# pretty_midi's wheel bundles a 6 MB copy of TimGM6mb.sf2 for its own synthesiser, which drumscribe
# never calls (the font travels once, in .carry.tar.xz): drop it from the wheel
for w in .whl/pretty_midi-*.whl; do
  unzip -l "$w" | grep -q 'pretty_midi/TimGM6mb.sf2' && zip -q -d "$w" pretty_midi/TimGM6mb.sf2
done

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
# the wheels as one .whl.tar.xz, each re-zipped without compression so that xz packs them:
# 12.7 instead of 18.3 MB (setup_device.sh unpacks it and installs the same wheels)
mkdir -p "$stage/whl"
for w in .whl/*.whl; do
  d=$(mktemp -d)
  (cd "$d" && unzip -q "$OLDPWD/$w" && zip -q -0 -r -X "$stage/whl/$(basename "$w")" .)
  rm -rf "$d"
done
XZ_OPT="-9 -T2" tar -cJf .whl.tar.xz -C "$stage" whl
rm -rf "$stage/whl"
mkdir -p "$stage/fluidsynth/lib" "$stage/sounds/sf2"
lib=$(ldconfig -p | awk '/libfluidsynth\.so\.3 /{print $NF; exit}')
cp -L "$lib" "$stage/fluidsynth/lib/"
# its library closure without the C/C++ runtime (the GPU machine's newer ones serve; setup_device.sh
# would skip them anyway): 24.6 instead of 29 MB
ldd "$lib" | awk '/=> \//{print $3}' | grep -vE '/(libc|libm|libdl|libpthread|librt|ld-linux|libstdc\+\+|libgcc_s|libresolv)[.-]' \
  | while read -r dep; do cp -L "$dep" "$stage/fluidsynth/lib/"; done
cp /usr/share/sounds/sf2/TimGM6mb.sf2 "$stage/sounds/sf2/"
cp -r "$shared/data/gmd/groove" "$stage/gmd"
kits=$(.venv/bin/python -c "import sys, yaml; print(' '.join(yaml.safe_load(open(sys.argv[1]))['render']['kits']))" "$preset")
.venv/bin/drumscribe compact-kits "$stage/compact" --kits $kits
XZ_OPT="-9 -T2" tar -cJf .carry.tar.xz -C "$stage" .

rm -rf .mdb && mkdir -p .mdb
cp -r "$shared/data/mdb_drums_dev/MDB Drums/annotations" "$shared/data/mdb_drums_dev/MDB Drums/metadata" .mdb/ 2>/dev/null || true
du -sh .whl.tar.xz .carry.tar.xz .mdb
