#!/usr/bin/env bash
# docs/model/check.sh -- exhaustive spin check of the UE-IP address
# management model (ipam.pml in this directory; see README.md).
#
# Usage: check.sh [--mutant NAME] [--deep] [--keep] [-DNAME=VALUE ...]
#
#   --mutant NAME  compile the model with -DNAME, which removes one
#                  protection; spin should then find a violation (the
#                  script prints it, with a counterexample, and exits 1).
#                  Mutants (README.md lists what spin finds for each):
#                    NO_RECON_FENCE     B accepts TRANSFER while owner reconciles
#                    NO_ALLOC_ID_CHECK  RELEASE frees a LENT address whatever its id
#                    NO_FORWARD         old owner drops RELEASEs after the hand-off
#                    NO_HANDOFF_WAIT    new owner allocates before HANDOFF arrives
#                    NO_XFER_COMMIT     transfer as briefed: no commit step
#                    NO_XFER_ACK        A deletes the session without B's ack
#                    NO_RELEASE_MASK    drift repair trusts stale REPORTs
#                    NO_EPOCH_TAG       REPORTs from an older epoch are accepted
#   --deep         use the larger "deep" configurations instead (tens of
#                  millions of states: minutes, and ~4 GB of memory each)
#   --keep         keep the work directory (pan sources, outputs, trails)
#   -DNAME=VALUE   extra define for every configuration, e.g. -DK=2
#
# Each configuration below is a set of bounds.  For each one the model is
# compiled once (spin -a; gcc -DSAFETY: safety properties, exhaustive
# search, no bitstate hashing) and pan searches the whole state space once
# with the claim "all" = [](a && b && c && d) (pan -N all); property e is
# a monitor process in the same binary, checked in every search.  Only if
# that search fails are a..d searched one by one (pan -N a, ...) to tell
# which are violated.  Output: one line per property,
# "model: <property> ok (states=N)", N = states searched, summed over the
# configurations.  Exit status 0 iff every pan run reported "errors: 0".

# shellcheck disable=SC2317  # (functions below are run via spawn/trap)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
model="$here/ipam.pml"

mutant=""
deep=0
keep=0
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --mutant) [ $# -ge 2 ] || { echo "check.sh: --mutant needs a name" >&2; exit 2; }
              mutant="$2"; shift 2 ;;
    --mutant=*) mutant="${1#--mutant=}"; shift ;;
    --keep) keep=1; shift ;;
    -D*) extra+=("$1"); shift ;;
    --deep) deep=1; shift ;;
    -h|--help) sed -n '2,31p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "check.sh: unknown argument: $1 (try --help)" >&2; exit 2 ;;
  esac
done

known="NO_RECON_FENCE NO_ALLOC_ID_CHECK NO_FORWARD NO_HANDOFF_WAIT NO_XFER_COMMIT NO_XFER_ACK NO_RELEASE_MASK NO_EPOCH_TAG"
if [ -n "$mutant" ] && ! grep -qw -- "$mutant" <<<"$known"; then
  echo "check.sh: unknown mutant '$mutant' (known: $known)" >&2
  exit 2
fi
for tool in spin gcc; do
  command -v "$tool" >/dev/null || { echo "check.sh: $tool not found" >&2; exit 2; }
done

# name:defines -- the bounded configurations (README.md, "Bounds")
configs=(
  "recovery:-DEPOCHS=0 -DK=3 -DMAXXFER=2 -DMAXCRASH=1 -DMAXDROP=0"
  "handoff-crash:-DEPOCHS=1 -DK=1 -DMAXXFER=1 -DMAXCRASH=1 -DMAXDROP=0"
  "handoff:-DEPOCHS=1 -DK=3 -DMAXXFER=2 -DMAXCRASH=0 -DMAXDROP=0"
  "linkdrop:-DEPOCHS=0 -DK=3 -DMAXXFER=2 -DMAXCRASH=0 -DMAXDROP=1"
)
gccopts="-O1 -DSAFETY"
hashsize=-w22
if [ "$deep" = 1 ]; then
  configs=(
    "recovery-drop:-DEPOCHS=0 -DK=3 -DMAXXFER=2 -DMAXCRASH=1 -DMAXDROP=1"
    "recovery-3xfer:-DEPOCHS=0 -DK=3 -DMAXXFER=3 -DMAXCRASH=1 -DMAXDROP=0"
    "two-crashes:-DEPOCHS=0 -DK=2 -DMAXXFER=2 -DMAXCRASH=2 -DMAXDROP=0"
    "handoff-3xfer:-DEPOCHS=1 -DK=3 -DMAXXFER=3 -DMAXCRASH=0 -DMAXDROP=0"
    "handoff-drop:-DEPOCHS=1 -DK=3 -DMAXXFER=2 -DMAXCRASH=0 -DMAXDROP=1"
    "handoff-crash-drop:-DEPOCHS=1 -DK=1 -DMAXXFER=1 -DMAXCRASH=1 -DMAXDROP=1"
    "handoff-crash-k2:-DEPOCHS=1 -DK=2 -DMAXXFER=1 -DMAXCRASH=1 -DMAXDROP=0"
  )
  gccopts="-O2 -DSAFETY -DCOLLAPSE"
  hashsize=-w26
fi
declare -A pname=(
  [a]="a:never-held-twice" [b]="b:nothing-leaked" [c]="c:nothing-lost"
  [d]="d:view-agrees" [e]="e:no-stuck-state"
)

work=$(mktemp -d "${TMPDIR:-/tmp}/ueip-model.XXXXXX")
cleanup() {
  if [ "$keep" = 1 ]; then echo "model: work directory kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

mdefs=()
if [ -n "$mutant" ]; then mdefs=("-D$mutant"); fi
ncpu=$(nproc 2>/dev/null || echo 2)

# run "$@" in the background, at most $ncpu at a time
spawn() {
  while [ "$(jobs -rp | wc -l)" -ge "$ncpu" ]; do wait -n || true; done
  "$@" &
}

build() {                               # build <config> <defines>
  local dir="$work/$1"
  mkdir -p "$dir"
  cp "$model" "$dir/ipam.pml"
  # shellcheck disable=SC2086
  (cd "$dir" &&
   spin -a $2 "${mdefs[@]}" "${extra[@]}" ipam.pml >spin.log 2>&1 &&
   gcc $gccopts -o pan pan.c >gcc.log 2>&1) || touch "$dir/BUILD_FAILED"
}

search() {                              # search <config> <property>
  local dir="$work/$1"
  [ -x "$dir/pan" ] || return 0
  # own directory per search: pan writes its trail to ./ipam.pml.trail
  mkdir -p "$dir/$2"
  cp "$dir/ipam.pml" "$dir/$2/ipam.pml"
  (cd "$dir/$2" && ../pan -m100000 "$hashsize" -N "$2" >"../pan.$2.out" 2>&1) || true
}

start=$(date +%s%N)
for c in "${configs[@]}"; do spawn build "${c%%:*}" "${c#*:}"; done
wait || true
for c in "${configs[@]}"; do spawn search "${c%%:*}" all; done
wait || true

# Classify one pan output: ok | claim | stuck | limit | other.
# A violated LTL claim reads "assertion violated  !( !(...", the (e)
# monitor's assertion "assertion violated ((((up[0]...", a full link
# "assertion violated (!q_full(...".
verdict() {
  local out="$1"
  if [ ! -f "$out" ]; then echo other; return; fi
  if grep -q "errors: 0" "$out"; then
    if grep -q "max search depth too small" "$out"; then echo other; else echo ok; fi
    return
  fi
  local line
  line=$(grep -m1 "^pan:1:" "$out" || true)
  case "$line" in
    *"assertion violated  !( !("*) echo claim ;;
    *"q_full"*) echo limit ;;
    *"assertion violated"*"up[0]"*) echo stuck ;;
    *) echo other ;;
  esac
}
states() { awk '/states, stored/ {print $1; exit}' "$1" 2>/dev/null || true; }

# where the combined search failed, search the properties one by one
for c in "${configs[@]}"; do
  cfg="${c%%:*}"
  if [ -x "$work/$cfg/pan" ] && [ "$(verdict "$work/$cfg/pan.all.out")" != ok ]; then
    for p in a b c d; do spawn search "$cfg" "$p"; done
  fi
done
wait || true
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))

if [ -n "$mutant" ]; then echo "model: mutant $mutant (compiled with -D$mutant)"; fi
if [ ${#extra[@]} -gt 0 ]; then echo "model: extra defines: ${extra[*]}"; fi

status=0
first=""                                # config|property[|e] of the first trail
declare -A e_states=() e_bad=() e_done=()
for c in "${configs[@]}"; do
  cfg="${c%%:*}"
  if [ "$(verdict "$work/$cfg/pan.all.out")" = stuck ]; then e_bad[$cfg]=all; fi
done
for p in a b c d; do
  total=0
  bad=()
  for c in "${configs[@]}"; do
    cfg="${c%%:*}"
    dir="$work/$cfg"
    out="$dir/pan.$p.out"
    if [ -f "$dir/BUILD_FAILED" ]; then
      bad+=("$cfg: build failed (spin.log, gcc.log in $dir)"); keep=1; continue
    fi
    if [ "$(verdict "$dir/pan.all.out")" = ok ]; then out="$dir/pan.all.out"; fi
    n=$(states "$out"); n=${n:-0}
    total=$((total + n))
    v=$(verdict "$out")
    case "$v" in
      ok)    e_done[$cfg]=1
             if [ "$n" -gt "${e_states[$cfg]:-0}" ]; then e_states[$cfg]=$n; fi ;;
      claim) bad+=("$cfg: violated $(grep -m1 -o 'at depth [0-9]*' "$out"), after $n states")
             if [ -z "$first" ]; then first="$cfg|$p"; fi ;;
      stuck) bad+=("$cfg: not decided, the search stopped at an (e) violation")
             e_bad[$cfg]="$p"
             if [ -z "$first" ]; then first="$cfg|$p|e"; fi ;;
      limit) bad+=("$cfg: not decided, a link overflowed (raise -DQCAP)") ;;
      *)     bad+=("$cfg: pan failed: $(grep -m1 -E '^pan|error' "$out" || echo 'no output')") ;;
    esac
  done
  if [ ${#bad[@]} -eq 0 ]; then
    echo "model: ${pname[$p]} ok (states=$total)"
  else
    status=1
    echo "model: ${pname[$p]} VIOLATED or undecided (states=$total)"
    for b in "${bad[@]}"; do echo "    $b"; done
  fi
done

# (e) ran inside every search: it holds in a configuration if some search
# there completed without error and none stopped on it.
total=0
bad=()
for c in "${configs[@]}"; do
  cfg="${c%%:*}"
  if [ -n "${e_bad[$cfg]:-}" ]; then
    bad+=("$cfg: violated (found in the search for ${e_bad[$cfg]})")
    if [ -z "$first" ]; then first="$cfg|${e_bad[$cfg]}|e"; fi
  elif [ -z "${e_done[$cfg]:-}" ]; then
    bad+=("$cfg: not decided, every search there stopped at another violation")
  fi
  total=$((total + ${e_states[$cfg]:-0}))
done
if [ ${#bad[@]} -eq 0 ]; then
  echo "model: ${pname[e]} ok (states=$total)"
else
  status=1
  echo "model: ${pname[e]} VIOLATED or undecided (states=$total)"
  for b in "${bad[@]}"; do echo "    $b"; done
fi

if [ -n "$first" ]; then
  IFS='|' read -r cfg p ise <<<"$first"
  for c in "${configs[@]}"; do [ "${c%%:*}" = "$cfg" ] && defs="${c#*:}"; done
  echo "model: counterexample for ${pname[${ise:-$p}]} (configuration $cfg):"
  # shellcheck disable=SC2086
  (cd "$work/$cfg/$p" &&
   spin -t $defs "${mdefs[@]}" "${extra[@]}" ipam.pml >replay.txt 2>&1
   grep -E '^[[:space:]]+(M[0-9]|\*\*\*)' replay.txt | sed -E 's/^[[:space:]]+/    /'
   # the last state, from the variable dump at the end of the replay
   awk -F' = ' '
     /^[[:space:]]+[a-z_]+(\[[0-9]+\])? = / { gsub(/[[:space:]]/, "", $1); v[$1] = $2 }
     END {
       split("FREE OWN LENT QUAR", st, " ")
       line = "    final state: sessions"
       for (m = 0; m < 3; m++) {
         h = v["held[" m "]"]; s = ""
         for (a = 1; a <= 3; a++)
           if (int(h / 2^a) % 2) s = s (s == "" ? "" : ",") a "@addr" v["addr_of[" a "]"]
         line = line sprintf(" M%d{%s}", m, s)
       }
       o = v["epoch"]
       line = line sprintf("; owner M%d:", o)
       for (i = 0; i < 2; i++) {
         k = o * 2 + i
         line = line sprintf(" addr%d %s", i, st[v["vst[" k "]"] + 1])
         if (v["vst[" k "]"] == 1 || v["vst[" k "]"] == 2) line = line "(" v["vaid[" k "]"] ")"
       }
       print line
     }' replay.txt) || true
fi

printf 'model: %s in %d.%d s\n' \
  "$([ $status = 0 ] && echo "all properties hold" || echo "violation found")" \
  $((elapsed_ms / 1000)) $((elapsed_ms % 1000 / 100))
exit $status
