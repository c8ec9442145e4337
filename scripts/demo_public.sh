#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The narrated demo of story 2 (seed 000), run for real in network namespaces
# (needs root): Dave's UE asks MNO A for a public address and publishes a video
# on it; Bill, a UE of MNO B, downloads it; the operator withdraws the address
# and Dave's UE is told. The world (ARCHITECTURE.md §11) comes from
# tests/e2e/world.py, the same one the e2e tests use.
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORLD="python3 $ROOT/tests/e2e/world.py"
UEIP=$BUILD/src/agent/ueip
CTL=$BUILD/src/cli/ueipctl
DAVE_IP=100.64.0.2
DAVE_SUPI=imsi-001010000000002
PCP_SERVER=100.64.0.1

if [ "$(id -u)" != 0 ]; then
	echo "demo_public: this demo builds network namespaces; run it as root" >&2
	exit 1
fi
for b in "$UEIP" "$CTL" "$BUILD/src/daemon/ueipd"; do
	[ -x "$b" ] || { echo "demo_public: $b is not built" >&2; exit 1; }
done

WORK=$(mktemp -d /tmp/ueip-demo-public.XXXXXX)
AGENT='' HTTP='' UP=''

say()  { printf '\n\033[1m== %s\033[0m\n' "$*"; }
note() { printf '   %s\n' "$*"; }
show() { printf '\033[2m%s$ %s\033[0m\n' "$1" "${*:2}"; }
ctl()  { show operator "ueipctl ${*}"; "$CTL" -s "$UEIPD_A_SOCK" "$@"; }

wait_for() {  # wait_for WHAT SECONDS CMD... : bounded wait until CMD succeeds
	local what=$1 tenths=$(($2 * 10)) i
	shift 2
	for ((i = 0; i < tenths; i++)); do
		if "$@" >/dev/null 2>&1; then return 0; fi
		sleep 0.1
	done
	echo "demo_public: timed out waiting for $what" >&2
	return 1
}

cleanup() {
	local rc=$?
	set +e
	if [ "$rc" != 0 ]; then
		echo "demo_public: failed (status $rc); the last lines of the logs:" >&2
		for f in "$WORK"/agent.out "$WORK"/agent.err "${UEIPD_A_LOG:-}"; do
			[ -s "$f" ] && { echo "--- $f" >&2; tail -15 "$f" >&2; }
		done
	fi
	for p in $AGENT $HTTP; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	[ -n "$UP" ] && $WORLD down "$WORK"
	if [ -n "${UEIP_KEEP:-}" ]; then echo "(kept $WORK)"; else rm -rf "$WORK"; fi
	exit "$rc"
}
trap cleanup EXIT

say "Story 2 (seed 000): a public address on request, taken back with notice"
note "The world, built from network namespaces, veth pairs and nftables:"
UP=1
vars=$($WORLD up "$WORK" --owner $$ --build "$BUILD")
eval "$vars"
note "  inet  the internet, 192.0.2.0/24; routes 198.51.100.0/24 to MNO A, 203.0.113.0/24 to MNO B"
note "  gwa   MNO A's gateway 192.0.2.1; its UEs sit behind NAT in 100.64.0.0/10"
note "  gwb   MNO B's gateway 192.0.2.2; its UEs use 100.64.0.0/10 too"
note "  dave  Dave's UE, 100.64.0.2 on 3gpp0, in MNO A"
note "  bill  Bill's UE, 100.64.0.2 on 3gpp0, in MNO B: the same private address, another operator"
note "(namespaces $PREFIX*)"

say "MNO A runs ueipd (SMF smf-a1) on its gateway"
vars=$($WORLD ueipd "$WORK" a --build "$BUILD")
eval "$vars"
note "its configuration, the public part:"
sed -n '/^public:/,$p' "$UEIPD_A_CONFIG" | sed 's/^/     /'

say "Dave's UE attaches: the SMF creates his PDU session, UE IP $DAVE_IP"
ctl session-create supi=$DAVE_SUPI dnn=internet snssai=1 pdu=1 type=v4 address=$DAVE_IP
note "So far Dave is reachable by nobody: his traffic leaves as MNO A's 192.0.2.1, shared with every UE."

say "Dave asks MNO A for a public address (PCP MAP: all protocols, all ports)"
# shellcheck disable=SC2016  # the hook expands them, not this shell
printf '#!/bin/sh\necho "$UEIP_EVENT $UEIP_PUBLIC_ADDRESS" >> %s/events\n' "$WORK" >"$WORK/notify.sh"
chmod +x "$WORK/notify.sh"
: >"$WORK/events"
show dave "ueip public request --server $PCP_SERVER --state dave.json --on-change notify.sh &"
ip netns exec "$NS_DAVE" "$UEIP" public request --server $PCP_SERVER --state "$WORK/dave.json" \
	--on-change "$WORK/notify.sh" >"$WORK/agent.out" 2>"$WORK/agent.err" &
AGENT=$!
wait_for "Dave's agent to print its address" 10 grep -Eq '198\.51\.100\.[0-9]+' "$WORK/agent.out"
sed 's/^/   dave: /' "$WORK/agent.out"
PUB=$(grep -Eo '198\.51\.100\.[0-9]+' "$WORK/agent.out" | head -1)
ctl public-list ue=$DAVE_IP
note "and in MNO A's gateway, the 1:1 NAT that ueipd programmed:"
show gwa "nft list table ip ueip | grep $PUB"
ip netns exec "$NS_GWA" nft list table ip ueip | grep -F "$PUB" | sed 's/^/   /'

say "Dave publishes his video at http://$PUB:8080/video.mp4"
mkdir -p "$WORK/www"
head -c 20M /dev/urandom >"$WORK/www/video.mp4"
show dave "python3 -m http.server 8080 &"
ip netns exec "$NS_DAVE" python3 -m http.server 8080 --directory "$WORK/www" >"$WORK/http.log" 2>&1 &
HTTP=$!
wait_for "Dave's web server" 10 sh -c "ip netns exec $NS_DAVE ss -Hltn 'sport = :8080' | grep -q ."

say "Bill, in MNO B, downloads it from Dave's public address"
show bill "curl -sS -o video.mp4 http://$PUB:8080/video.mp4"
ip netns exec "$NS_BILL" curl -sS --fail --max-time 60 -o "$WORK/bill-video.mp4" "http://$PUB:8080/video.mp4"
sent=$(sha256sum <"$WORK/www/video.mp4" | cut -d' ' -f1)
got=$(sha256sum <"$WORK/bill-video.mp4" | cut -d' ' -f1)
note "sha256 on Dave's UE: $sent"
note "sha256 on Bill's UE: $got"
[ "$sent" = "$got" ] || { echo "demo_public: the hashes differ" >&2; exit 1; }
note "20 MiB, identical, across two operators' NATs."

say "The operator takes the address back"
ctl public-withdraw ue=$DAVE_IP reason=demo
wait_for "Dave's agent to report the withdrawal" 2 grep -q '^withdrawn' "$WORK/agent.out"
grep '^withdrawn' "$WORK/agent.out" | sed 's/^/   dave: /'
wait_for "the --on-change hook" 2 grep -qi withdraw "$WORK/events"
note "--on-change ran with UEIP_EVENT, UEIP_PUBLIC_ADDRESS: $(tail -1 "$WORK/events")"
ctl public-list ue=$DAVE_IP || true

say "Bill tries again: $PUB no longer leads to Dave"
show bill "curl -sS --max-time 5 -o /dev/null http://$PUB:8080/video.mp4"
if ip netns exec "$NS_BILL" curl -sS --max-time 5 -o /dev/null "http://$PUB:8080/video.mp4" 2>"$WORK/curl.err"; then
	echo "demo_public: Bill still reached Dave after the withdrawal" >&2
	exit 1
fi
sed 's/^/   bill: /' "$WORK/curl.err"

say "Done: every process is stopped and the namespaces deleted."
