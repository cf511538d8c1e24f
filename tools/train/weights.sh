#!/usr/bin/env bash
# Trained weights live in git history, not in the working tree: every device call sends the whole tracked
# tree and may send at most 64 MiB, so 60 MB of weights in the tree would block every call. Each file was
# committed as xz parts (<= 15 MiB) and removed in the next commit; its sidecar JSON (sha256 of the .pth)
# stays in tools/train/weights/.
#   tools/train/weights.sh pack NAME            .tmp/runs/NAME/NAME.pth or tools/train/weights/NAME.pth -> NAME.pth.xz.part-NN
#   tools/train/weights.sh restore NAME [DIR]   parts from history -> DIR/NAME.pth (default .tmp/weights), sha256 checked
#   tools/train/weights.sh carry NAME           restore, then copy the xz parts into .device-carry/ for a device call
#                                               (there: cat .device-carry/NAME.pth.xz.part-* | xz -d > NAME.pth)
set -euo pipefail
cd "$(dirname "$0")/../.."
W=tools/train/weights
cmd=$1; name=$2
case "$cmd" in
pack)
  src=$W/$name.pth; [ -f "$src" ] || src=.tmp/runs/$name/$name.pth
  xz -6 -T0 -c "$src" | split -b 15M -d -a 2 - "$W/$name.pth.xz.part-"
  ls -la "$W/$name.pth.xz.part-"*
  ;;
restore|carry)
  dir=${3:-.tmp/weights}
  mkdir -p "$dir"
  sha=$(git log --diff-filter=A --format=%H -1 -- "$W/$name.pth.xz.part-00")
  [ -n "$sha" ] || { echo "no commit added $W/$name.pth.xz.part-00" >&2; exit 1; }
  rm -f "$dir/$name.pth.xz.part-"*
  for p in $(git ls-tree --name-only "$sha" "$W/" | grep "/$name.pth.xz.part-"); do
    git show "$sha:$p" > "$dir/$(basename "$p")"
  done
  cat "$dir/$name.pth.xz.part-"* | xz -d > "$dir/$name.pth"
  want=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['sha256'])" "$W/$name.json")
  got=$(sha256sum "$dir/$name.pth" | cut -d' ' -f1)
  [ "$want" = "$got" ] || { echo "sha256 mismatch for $name: $got != $want" >&2; exit 1; }
  echo "restored $dir/$name.pth from $sha (sha256 ok)"
  if [ "$cmd" = carry ]; then
    mkdir -p .device-carry
    cp "$dir/$name.pth.xz.part-"* .device-carry/
    ls -la .device-carry
  fi
  ;;
*) echo "usage: $0 pack|restore|carry NAME [DIR]" >&2; exit 2 ;;
esac
