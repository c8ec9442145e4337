#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# nat_throughput.sh: TCP throughput (iperf3) through the gateway namespace
# with plain routing, then through a ONE_TO_ONE mapping of the nft data
# path with that mapping alone and with N others installed (default
# 100 000), and the ratio to plain routing. Needs root, iperf3 and a built
# dp_bench. Everything happens in namespaces made here and deleted at exit.
#
#   ue 100.64.0.2 ---- 100.64.0.1 gw 192.0.2.1 ---- 192.0.2.2 inet
#
# "down" = inet sends to the UE (iperf3 client in inet, server on the UE),
# "up" = the UE sends (iperf3 -R). Plain routing: inet -> 100.64.0.2 with no
# nftables at all in gw. NAT: inet -> 198.51.100.7, DNAT/SNAT'd by the maps.
#
# usage: bench/nat_throughput.sh [-B BUILDDIR] [-t SECONDS] [-r REPEATS] [-n OTHERS]
set -eu

builddir=build
secs=5
reps=3
others=100000
while getopts "B:t:r:n:h" opt; do
	case $opt in
	B) builddir=$OPTARG ;;
	t) secs=$OPTARG ;;
	r) reps=$OPTARG ;;
	n) others=$OPTARG ;;
	*) sed -n '3,16p' "$0"; exit 2 ;;
	esac
done
bench=$builddir/bench/dp_bench
[ "$(id -u)" = 0 ] || { echo "nat_throughput: needs root"; exit 77; }
command -v iperf3 >/dev/null || { echo "nat_throughput: iperf3 not found"; exit 77; }
[ -x "$bench" ] || { echo "nat_throughput: $bench not built (-B BUILDDIR)"; exit 2; }

tag=ueipnat$$
UE=$tag-ue GW=$tag-gw IN=$tag-in
server_pid=

cleanup() {
	set +e
	if [ -n "$server_pid" ]; then
		kill "$server_pid" 2>/dev/null
		wait "$server_pid" 2>/dev/null
	fi
	for ns in $UE $GW $IN; do ip netns del "$ns" 2>/dev/null; done
	return 0
}
trap cleanup EXIT INT TERM

for ns in $UE $GW $IN; do ip netns add "$ns"; ip -n "$ns" link set lo up; done
ip -n "$GW" link add gw-ue type veth peer name ue0 netns "$UE"
ip -n "$GW" link add gw-in type veth peer name in0 netns "$IN"
ip -n "$GW" addr add 100.64.0.1/24 dev gw-ue
ip -n "$GW" addr add 192.0.2.1/24 dev gw-in
ip -n "$UE" addr add 100.64.0.2/24 dev ue0
ip -n "$IN" addr add 192.0.2.2/24 dev in0
for l in "$GW gw-ue" "$GW gw-in" "$UE ue0" "$IN in0"; do
	set -- $l; ip -n "$1" link set "$2" up
done
ip -n "$UE" route add default via 100.64.0.1
ip -n "$IN" route add 100.64.0.0/24 via 192.0.2.1	# plain routing only
ip -n "$IN" route add 198.51.100.0/24 via 192.0.2.1
ip netns exec "$GW" sh -c 'echo 1 > /proc/sys/net/ipv4/ip_forward'

ip netns exec "$UE" iperf3 -s -B 100.64.0.2 >/dev/null 2>&1 &
server_pid=$!
sleep 0.5

# Median receiver throughput in Gbit/s of $reps runs to $1 (extra iperf3 args after).
measure() {
	local dst=$1; shift
	local runs=()
	for _ in $(seq "$reps"); do
		runs+=("$(ip netns exec "$IN" iperf3 -c "$dst" -t "$secs" -f m "$@" 2>&1 |
			awk '/receiver/ { for (i = 1; i <= NF; i++) if ($i == "Mbits/sec") v = $(i-1) }
			     END { if (v == "") v = 0; printf "%.2f", v / 1000 }')")
	done
	printf '%s\n' "${runs[@]}" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'
}

install() {
	ip netns exec "$GW" "$bench" -b nft --here --keep -n "$1" -c 10000 \
		--map 100.64.0.2=198.51.100.7 | sed 's/^/    /'
}

echo "nat_throughput: iperf3 TCP, ${secs}s x $reps runs (median), $(nproc) CPUs, kernel $(uname -r)"
printf '%-40s %10s %10s\n' "path" "down Gb/s" "up Gb/s"
plain_down=$(measure 100.64.0.2)
plain_up=$(measure 100.64.0.2 -R)
printf '%-40s %10s %10s\n' "plain routing (no nftables)" "$plain_down" "$plain_up"

echo "  installing the mapping alone:"
install 0
one_down=$(measure 198.51.100.7)
one_up=$(measure 198.51.100.7 -R)
printf '%-40s %10s %10s\n' "ONE_TO_ONE, 1 mapping" "$one_down" "$one_up"

echo "  installing the mapping and $others others:"
install "$others"
many_down=$(measure 198.51.100.7)
many_up=$(measure 198.51.100.7 -R)
printf '%-40s %10s %10s\n' "ONE_TO_ONE, 1 + $others mappings" "$many_down" "$many_up"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
echo "ratio to plain routing:"
printf '%-40s %10s %10s\n' "ONE_TO_ONE, 1 mapping" "$(ratio "$one_down" "$plain_down")" \
	"$(ratio "$one_up" "$plain_up")"
printf '%-40s %10s %10s\n' "ONE_TO_ONE, 1 + $others mappings" "$(ratio "$many_down" "$plain_down")" \
	"$(ratio "$many_up" "$plain_up")"
