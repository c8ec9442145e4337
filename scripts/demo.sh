#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The narrated demo: what works today, run for real on loopback.
#
# Story 1 (seed 003): three SMFs of one SMF set allocate UE addresses from their
# own chunks, hand a session over, free an address released on a non-owner,
# survive a SIGKILL, and take a fourth member in.
set -euo pipefail
BUILD=${1:-build}
UEIPD=$BUILD/src/daemon/ueipd
CTL=$BUILD/src/cli/ueipctl
WORK=$(mktemp -d /tmp/ueip-demo.XXXXXX)
KEY=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
declare -A PID PORT

say()  { printf '\n\033[1m== %s\033[0m\n' "$*"; }
note() { printf '   %s\n' "$*"; }
run()  { printf '\033[2m$ ueipctl %s\033[0m\n' "${*:2}"; "$CTL" -s "$WORK/$1.sock" "${@:2}"; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
for m in smf1 smf2 smf3 smf4; do PORT[$m]=$(free_port); done

write_config() {  # write_config MEMBER EPOCH MEMBERS...
	local me=$1 epoch=$2 m
	shift 2
	{
		echo "set: { id: demo-set, member: $me, epoch: $epoch, key: $KEY, recovery_timeout_ms: 2000, members: ["
		for m in "$@"; do echo "  { id: $m, address: 127.0.0.1:${PORT[$m]} },"; done
		echo "] }"
		echo "chunk_size: 256"
		echo "quarantine_seconds: 0"
		echo "pools:"
		echo "  - { name: inet4, dnn: internet, ipv4: 100.64.0.0/12 }"
		echo "  - { name: inet6, dnn: internet, ipv6: \"2001:db8::/40\", delegated_length: 64 }"
		echo "store: { path: $WORK/$me.db }"
		echo "control: { socket: $WORK/$me.sock }"
		echo "log: { level: info }"
	} >"$WORK/$me.yaml"
}

start() {
	"$UEIPD" -c "$WORK/$1.yaml" >>"$WORK/$1.log" 2>&1 &
	PID[$1]=$!
}

wait_active() {  # bounded wait until the member answers set-status with state active
	for _ in $(seq 1 150); do
		if "$CTL" -s "$WORK/$1.sock" --json set-status 2>/dev/null | grep -q '"state": "active"'; then return 0; fi
		sleep 0.1
	done
	echo "demo: $1 did not become active; its log:" >&2
	tail -20 "$WORK/$1.log" >&2
	return 1
}

cleanup() {
	for m in "${!PID[@]}"; do kill "${PID[$m]}" 2>/dev/null || true; done
	wait 2>/dev/null || true
	[ -n "${UEIP_KEEP:-}" ] && echo "(kept $WORK)" || rm -rf "$WORK"
}
trap cleanup EXIT

say "Story 1 (seed 003): UE IP addresses for an SMF set, with no central allocator"
note "Three ueipd processes, one per SMF, on loopback; each keeps its state in its own"
note "SQLite file (WAL). Pools: 100.64.0.0/12 and 2001:db8::/40 (/64 per UE), cut into"
note "chunks of 256; every chunk has one owner, chosen by rendezvous hashing."
for m in smf1 smf2 smf3; do write_config $m 1 smf1 smf2 smf3; start $m; done
for m in smf1 smf2 smf3; do wait_active $m; done
run smf1 set-status

say "Each SMF allocates from its own individual list"
for i in 1 2 3; do
	m=smf$i
	run $m session-create supi=imsi-00101000000000$i dnn=internet snssai=1 pdu=5 type=v4v6
done
run smf1 pool-stats

say "The controlling SMF of a session changes: smf1 hands imsi-...001 to smf2"
run smf1 session-transfer supi=imsi-001010000000001 dnn=internet snssai=1 pdu=5 to=smf2
note "smf1 still owns the address's chunk, and now counts the address as lent:"
run smf1 set-status | grep -E '^(lent|outbox)' || true

say "smf2 releases it: not its chunk, so it broadcasts the free to the set; smf1 frees it"
run smf2 session-release supi=imsi-001010000000001 dnn=internet snssai=1 pdu=5
for _ in $(seq 1 50); do "$CTL" -s "$WORK/smf1.sock" --json set-status | grep -q '"lent": 0' && break; sleep 0.1; done
run smf1 set-status | grep -E '^(lent|outbox)' || true
note "the next session on smf1 gets that address again:"
run smf1 session-create supi=imsi-001010000000009 dnn=internet snssai=1 pdu=5

say "A session on smf3 moves to smf2; then smf3 is killed with SIGKILL"
run smf3 session-transfer supi=imsi-001010000000003 dnn=internet snssai=1 pdu=5 to=smf2
run smf3 session-create supi=imsi-001010000000033 dnn=internet snssai=1 pdu=5
kill -9 "${PID[smf3]}"; wait "${PID[smf3]}" 2>/dev/null || true
note "smf3 is down. smf2 releases the session it took over from smf3; the free waits in smf2's outbox:"
run smf2 session-release supi=imsi-001010000000003 dnn=internet snssai=1 pdu=5
run smf2 set-status | grep -E '^outbox' || true

say "smf3 restarts: it broadcasts recovery, its peers report what they hold of its chunks"
start smf3; wait_active smf3
grep -E "recovery (round|complete)" "$WORK/smf3.log" | tail -2 | sed 's/^/   log: /'
run smf3 set-status
run smf3 session-get supi=imsi-001010000000033 dnn=internet snssai=1 pdu=5
note "the session acknowledged before the kill is still there."
run smf3 set-audit

say "A fourth SMF joins: a new epoch re-divides the chunks; old owners hand usage over"
for m in smf1 smf2 smf3 smf4; do write_config $m 2 smf1 smf2 smf3 smf4; done
start smf4
run smf1 set-members member=smf1@127.0.0.1:${PORT[smf1]} member=smf2@127.0.0.1:${PORT[smf2]} \
	member=smf3@127.0.0.1:${PORT[smf3]} member=smf4@127.0.0.1:${PORT[smf4]}
note "the minimum a 4th member can take is 1/4 of the chunks: rendezvous hashing moves about that."
wait_active smf4
for _ in $(seq 1 100); do "$CTL" -s "$WORK/smf4.sock" --json set-status | grep -A1 '"handoff"' | grep -q '"active": false' && break; sleep 0.1; done
run smf4 session-create supi=imsi-001010000000044 dnn=internet snssai=1 pdu=5 type=v4v6
run smf4 pool-stats

say "Done: every process is stopped and $WORK removed."
note "Stories 2-5 (public addresses, UE-to-UE brokering, triggers, flow mobility) are not built yet."
