#!/usr/bin/env bash
# What travels to the GPU machine is the working tree as git sees it (tracked files and untracked ones
# git does not ignore) plus the carried paths, 64 MiB in all. The committed result folders under
# docs/results/ (77 MB on 2026-12-08) leave no room beside the carry (.whl.tar.xz + .carry.tar.xz, about 40 MB),
# so a run's tree leaves them out for the time of its calls, keeping the files the run reads (the fold
# models it starts from or learns from):
#   bash benchmarks/gpu/travel_tree.sh strip [KEEP...]   untrack docs/results/ but the files whose path
#        contains one of the KEEP strings, and ignore them in .git/info/exclude, so that the device's
#        copy of the tree goes without them (the files stay on disk); prints what travels
#   bash benchmarks/gpu/travel_tree.sh restore           track them again, .git/info/exclude as before
#   bash benchmarks/gpu/travel_tree.sh status            stripped or not, and the tree's size
# e.g. for the fold runs from release 5 taught by release 6 (crossval_gpu_bands_from5.yaml):
#   bash benchmarks/gpu/travel_tree.sh strip release5-2026-12-02/models/ release6-2026-12-02/models/ \
#       release3-2026-11-25/drumscribe-release3.pt
# Never commit while stripped (the commit would delete the folders): strip refuses to run twice, and
# restore is the only way back.
set -euo pipefail
git_dir=$(git rev-parse --git-dir)
state=$git_dir/drumscribe-travel
mode=${1:-status}
[ $# -gt 0 ] && shift

tree_bytes() {
  git ls-files -z | xargs -0 stat -c %s 2>/dev/null | awk '{s += $1} END {printf "%.1f MB\n", s / 1e6}'
}

case "$mode" in
  strip)
    [ -d "$state" ] && { echo "travel_tree.sh: already stripped ($state); run restore first"; exit 1; }
    mkdir -p "$state" "$git_dir/info"
    touch "$git_dir/info/exclude"
    cp "$git_dir/info/exclude" "$state/exclude"
    git ls-files docs/results > "$state/all.txt"
    cp "$state/all.txt" "$state/untracked.txt"
    for keep in "$@"; do
      grep -vF -- "$keep" "$state/untracked.txt" > "$state/next.txt" || true
      mv "$state/next.txt" "$state/untracked.txt"
    done
    if [ -s "$state/untracked.txt" ]; then
      sed 's|^|/|' "$state/untracked.txt" >> "$git_dir/info/exclude"
      git rm -q --cached --pathspec-from-file="$state/untracked.txt"
    fi
    echo "stripped: $(wc -l < "$state/untracked.txt") of $(wc -l < "$state/all.txt") files under docs/results/ leave the tree; kept: $(( $(wc -l < "$state/all.txt") - $(wc -l < "$state/untracked.txt") ))"
    echo "the tree that travels: $(tree_bytes) (do not commit until restore)"
    ;;
  restore)
    [ -d "$state" ] || { echo "travel_tree.sh: not stripped"; exit 1; }
    cp "$state/exclude" "$git_dir/info/exclude"
    # the index entries back as HEAD has them (the working tree's files are not touched)
    [ -s "$state/untracked.txt" ] && git reset -q --pathspec-from-file="$state/untracked.txt"
    rm -rf "$state"
    echo "restored: the tree is $(tree_bytes)"
    ;;
  status)
    if [ -d "$state" ]; then echo "stripped ($(wc -l < "$state/untracked.txt") files out)"; else echo "not stripped"; fi
    echo "the tree: $(tree_bytes)"
    ;;
  *)
    echo "travel_tree.sh: unknown mode $mode (strip, restore, status)"; exit 2 ;;
esac
