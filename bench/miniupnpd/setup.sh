#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench/miniupnpd/setup.sh - the network-namespace world of the PCP benchmark,
# and miniupnpd (Debian's miniupnpd-nftables 2.3.1) running in it.
#
# Sourced by bench/pcp_bench.sh for its functions, or run by hand (as root):
#   bash bench/miniupnpd/setup.sh up DIR [SOURCES]   world + miniupnpd; state in DIR
#   bash bench/miniupnpd/setup.sh down DIR           stop miniupnpd, delete the world
# after `up`, e.g.:
#   ip netns exec "$(cat DIR/ns_cl)" build/bench/pcp_loadgen --server 10.77.0.1 \
#       --sources SOURCES --source-base 10.77.128.1 --prefill 100 --mode renew
#
# The world (TAG unique per run; interface names stay under 16 characters):
#
#   pcp-cl-TAG  load generator   pcc<TAG>  10.77.0.2/16, sources 10.77.128.1 ... (/32)
#        |  veth
#   pcp-gw-TAG  the PCP server   pcg<TAG>  10.77.0.1/16   (PCP on 10.77.0.1:5351)
#        |  veth                 pcx<TAG>  11.99.0.1/24   (miniupnpd's external side)
#   pcp-ex-TAG  "outside"        pco<TAG>  11.99.0.2/24
#
# Nothing leaves these namespaces: none has a default route or a link to the
# host. The external address is not private on purpose: miniupnpd 2.3.1
# refuses to map on an external interface with a private or reserved address
# (10/8, 100.64/10, 192.0.2/24, 198.18/15, 198.51.100/24, 203.0.113/24, ...).
# Override with MU_EXT_ADDR=a.b.c.d/len.
#
# miniupnpd runs as a daemon with a pid file in DIR, not in the foreground:
# -d also turns on LOG_DEBUG to stderr, which (one line per nftables rule read)
# cost more CPU than the PCP work itself. MU_DEBUG=1 runs it with -d anyway,
# logging to DIR/miniupnpd.log, for diagnosis only.

# ---- the world ---------------------------------------------------------------
W_INT_NET=10.77.0.0/16
W_GW_ADDR=10.77.0.1
W_CL_ADDR=10.77.0.2
W_EXT_ADDR="${MU_EXT_ADDR:-11.99.0.1/24}"
W_TAG=""

# world_up TAG: create the three namespaces and their links.
world_up() {
    W_TAG="$1"
    W_NS_CL="pcp-cl-$W_TAG"; W_NS_GW="pcp-gw-$W_TAG"; W_NS_EX="pcp-ex-$W_TAG"
    W_IF_CL="pcc$W_TAG"; W_IF_GI="pcg$W_TAG"; W_IF_GX="pcx$W_TAG"; W_IF_EX="pco$W_TAG"
    local ext_peer
    ext_peer="$(python3 -c 'import ipaddress,sys; n=ipaddress.ip_interface(sys.argv[1]); print(f"{n.ip + 1}/{n.network.prefixlen}")' "$W_EXT_ADDR")"
    ip netns add "$W_NS_CL"
    ip netns add "$W_NS_GW"
    ip netns add "$W_NS_EX"
    ip link add "$W_IF_CL" type veth peer name "$W_IF_GI"
    ip link set "$W_IF_CL" netns "$W_NS_CL"
    ip link set "$W_IF_GI" netns "$W_NS_GW"
    ip link add "$W_IF_GX" type veth peer name "$W_IF_EX"
    ip link set "$W_IF_GX" netns "$W_NS_GW"
    ip link set "$W_IF_EX" netns "$W_NS_EX"
    local ns
    for ns in "$W_NS_CL" "$W_NS_GW" "$W_NS_EX"; do ip -n "$ns" link set lo up; done
    ip -n "$W_NS_CL" addr add "$W_CL_ADDR/16" dev "$W_IF_CL"
    ip -n "$W_NS_GW" addr add "$W_GW_ADDR/16" dev "$W_IF_GI"
    ip -n "$W_NS_GW" addr add "$W_EXT_ADDR" dev "$W_IF_GX"
    ip -n "$W_NS_EX" addr add "$ext_peer" dev "$W_IF_EX"
    ip -n "$W_NS_CL" link set "$W_IF_CL" up
    ip -n "$W_NS_GW" link set "$W_IF_GI" up
    ip -n "$W_NS_GW" link set "$W_IF_GX" up
    ip -n "$W_NS_EX" link set "$W_IF_EX" up
}

# world_add_sources FIRST N ROUTE: add N consecutive /32 addresses from FIRST
# to the load generator's interface, and a route for the prefix ROUTE that
# holds them, via the load generator, in the gateway. Routed rather than
# on-link, so the gateway keeps one neighbour entry, not one per source
# (the table holds 1024 by default): 10.77.128.0/17 for miniupnpd (inside
# its LAN 10.77/16, which it requires), 100.64.0.0/10 for ueipd's UE addresses.
world_add_sources() {
    local first="$1" n="$2" route="$3"
    python3 - "$first" "$n" "$W_IF_CL" <<'PY' | ip -n "$W_NS_CL" -batch -
import ipaddress, sys
first, n, dev = ipaddress.ip_address(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
for i in range(n):
    print(f"addr add {first + i}/32 dev {dev}")
PY
    ip -n "$W_NS_GW" route add "$route" via "$W_CL_ADDR"
}

# world_down: end every process left in our namespaces (they are private to
# this run), then delete them; the veth pairs go with them.
world_down() {
    [ -n "$W_TAG" ] || return 0
    local ns p
    for ns in "$W_NS_CL" "$W_NS_GW" "$W_NS_EX"; do
        [ -e "/run/netns/$ns" ] || continue
        for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
        ip netns del "$ns" 2>/dev/null || echo "setup.sh: could not delete namespace $ns" >&2
    done
    W_TAG=""
}

# ---- miniupnpd -----------------------------------------------------------------
MU_BIN="${MU_BIN:-/usr/sbin/miniupnpd}"
MU_TABLE=miniupnpd
MU_PID=""

# The tables and chains miniupnpd adds its rules to (what nft_init.sh makes).
mu_nft_init() {
    ip netns exec "$W_NS_GW" nft -f - <<EOF
table inet $MU_TABLE {
    chain miniupnpd {
    }
    chain prerouting_miniupnpd {
    }
    chain postrouting_miniupnpd {
    }
    chain forward {
        type filter hook forward priority 0; policy drop;
        jump miniupnpd
    }
    chain prerouting {
        type nat hook prerouting priority -100; policy accept;
        jump prerouting_miniupnpd
    }
    chain postrouting {
        type nat hook postrouting priority 100; policy accept;
        jump postrouting_miniupnpd
    }
}
EOF
}

# mu_config DIR: write DIR/miniupnpd.conf from the template beside this file.
mu_config() {
    local dir="$1" here lease="# lease_file= (off)"
    here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
    [ "${MU_LEASE_FILE:-0}" != 1 ] || lease="lease_file=$dir/miniupnpd.leases"
    sed -e "s|@EXT_IF@|$W_IF_GX|" -e "s|@INT_IF@|$W_IF_GI|" -e "s|@INT_NET@|$W_INT_NET|" \
        -e "s|@TABLE@|$MU_TABLE|" -e "s|@LEASE_FILE_LINE@|$lease|" \
        "$here/miniupnpd.conf.in" >"$dir/miniupnpd.conf"
}

# mu_rules: the number of port mappings miniupnpd holds (its DNAT rules).
mu_rules() {
    ip netns exec "$W_NS_GW" nft list chain inet "$MU_TABLE" prerouting_miniupnpd 2>/dev/null |
        grep -c ' dnat ' || true
}

# mu_start DIR [CPU-PREFIX...]: nft chains, config, start miniupnpd in the
# gateway namespace; sets MU_PID once it listens on UDP 5351.
mu_start() {
    local dir="$1"; shift
    [ -x "$MU_BIN" ] || { echo "setup.sh: $MU_BIN missing (apt-get install miniupnpd-nftables)" >&2; return 1; }
    mu_nft_init
    mu_config "$dir"
    rm -f "$dir/miniupnpd.pid"
    if [ "${MU_DEBUG:-0}" = 1 ]; then
        ip netns exec "$W_NS_GW" "$@" "$MU_BIN" -f "$dir/miniupnpd.conf" -d >"$dir/miniupnpd.log" 2>&1 &
        MU_PID=$!          # ip netns exec and taskset exec(): this is miniupnpd
    else
        ip netns exec "$W_NS_GW" "$@" "$MU_BIN" -f "$dir/miniupnpd.conf" -P "$dir/miniupnpd.pid" \
            >"$dir/miniupnpd.log" 2>&1
        MU_PID=""
    fi
    for _ in $(seq 1 100); do
        if [ -z "$MU_PID" ] && [ -s "$dir/miniupnpd.pid" ]; then MU_PID="$(cat "$dir/miniupnpd.pid")"; fi
        if [ -n "$MU_PID" ] && ip netns exec "$W_NS_GW" ss -Hlunp 2>/dev/null |
                grep -q ":5351 .*pid=$MU_PID,"; then
            [ "$(cat /proc/"$MU_PID"/comm 2>/dev/null)" = miniupnpd ] || break
            return 0
        fi
        sleep 0.05
    done
    echo "setup.sh: miniupnpd did not come up listening on UDP 5351:" >&2
    tail -n 20 "$dir/miniupnpd.log" >&2
    return 1
}

# mu_stop: TERM (miniupnpd removes its rules), then KILL after 10 s.
mu_stop() {
    [ -n "$MU_PID" ] || return 0
    if kill -0 "$MU_PID" 2>/dev/null; then
        kill -TERM "$MU_PID" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$MU_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$MU_PID" 2>/dev/null || true
    fi
    wait "$MU_PID" 2>/dev/null || true      # a child only with MU_DEBUG=1
    MU_PID=""
    return 0
}

# ---- by hand -----------------------------------------------------------------------
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -euo pipefail
    cmd="${1:-}"; dir="${2:-}"
    if [ -z "$cmd" ] || [ -z "$dir" ]; then sed -n '5,10p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; fi
    [ "$(id -u)" -eq 0 ] || { echo "setup.sh: must run as root" >&2; exit 1; }
    case "$cmd" in
        up)
            mkdir -p "$dir"
            dir="$(cd "$dir" && pwd)"
            world_up "$$"
            world_add_sources 10.77.128.1 "${3:-100}" 10.77.128.0/17
            mu_start "$dir"
            echo "$W_TAG" >"$dir/tag"; echo "$W_NS_CL" >"$dir/ns_cl"; echo "$W_NS_GW" >"$dir/ns_gw"
            echo "$MU_PID" >"$dir/mu_pid"
            echo "world $W_TAG up: miniupnpd pid $MU_PID in $W_NS_GW; load generator namespace $W_NS_CL"
            ;;
        down)
            [ -f "$dir/tag" ] || { echo "setup.sh: no world recorded in $dir" >&2; exit 1; }
            W_TAG="$(cat "$dir/tag")"
            W_NS_CL="pcp-cl-$W_TAG"; W_NS_GW="pcp-gw-$W_TAG"; W_NS_EX="pcp-ex-$W_TAG"
            MU_PID="$(cat "$dir/mu_pid" 2>/dev/null || true)"
            if [ -n "$MU_PID" ] && [ "$(cat /proc/"$MU_PID"/comm 2>/dev/null)" = miniupnpd ]; then mu_stop; fi
            world_down
            rm -f "$dir/tag" "$dir/ns_cl" "$dir/ns_gw" "$dir/mu_pid"
            echo "world down"
            ;;
        *) echo "setup.sh: unknown command $cmd (up|down)" >&2; exit 2 ;;
    esac
fi
