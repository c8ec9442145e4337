#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""e2e, seed 000: Dave's UE asks MNO A for a public address, Bill (MNO B) downloads
from it, the operator withdraws it (docs/public-design.md), in the world of
ARCHITECTURE.md §11 (tests/e2e/world.py). Needs root; exits 77 (skipped) otherwise.

    python3 test_public.py [test_name ...]      UEIP_BUILD=<build dir>, UEIP_KEEP=1 keeps files

Every wait is bounded (wait_until, Proc.wait_for); every world is torn down.
"""
import os
import re
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from world import (INET_ADDR, MNOS, World, addr_re, expect, ipv4s_in, natpmp_parse, netns_list,  # noqa: E402
                   pcp_announce, pcp_map, pcp_option, pcp_parse, binary, run_tests, v4mapped,
                   wait_until, OPT_THIRD_PARTY, PCP_MAP)

GW_A = MNOS["a"]["ue_gw"]            # 100.64.0.1, ueipd's PCP address in gwa
POOL_A = MNOS["a"]["public"]         # 198.51.100.0/24
HTTP_PORT = 8080
NOT_AUTHORIZED, ADDRESS_MISMATCH = 2, 12
ERROR_LIFETIME = 1800                # public-design.md: non-transient errors say "retry in 1800 s"


def setup(w, config=None):
    """MNO A's ueipd in gwa and Dave's session (UE IP 100.64.0.2)."""
    d = w.start_ueipd("a", config)
    w.create_session("dave")
    return d, w.ues["dave"], w.ues["bill"]


def in_nft(w, addr):
    return addr_re(addr).search(w.nft_table("gwa")) is not None


def dedicated(d, ue):
    return [m for m in d.public_list(ue=ue.address) if m.get("kind") == "dedicated"]


def snapshot(d):
    """public-list without the ticking lifetime_left, comparable across time."""
    keys = ("ue", "supi", "kind", "protocol", "internal_port", "external", "external_port", "via")
    return sorted(tuple(m.get(k) for k in keys) for m in d.public_list())


def whoami(w):
    """A TCP server in inet that tells each client the source address it saw."""
    return w.tcp_server("inet", INET_ADDR, 7000, reply=lambda peer: peer.encode())


# ---------------------------------------------------------------------------
# (a) the world alone

def test_world_baseline():
    with World() as w:
        dave, bill = w.ues["dave"], w.ues["bill"]
        expect(dave.address == bill.address == "100.64.0.2", "both UEs hold 100.64.0.2 (reused private space)")
        whoami(w)
        for ue, gw in (("dave", MNOS["a"]["inet"]), ("bill", MNOS["b"]["inet"])):
            seen = w.tcp_connect(ue, INET_ADDR, 7000, recv=True).decode()
            expect(seen == gw, f"{ue} reached the internet as {seen!r}, expected masquerade to {gw}")
        listener = w.tcp_server("dave", "0.0.0.0", HTTP_PORT)
        # positive control: the listener is up and Dave's gateway reaches it
        expect(w.tcp_connect("gwa", dave.address, HTTP_PORT), "gwa cannot reach dave's listener")
        wait_until(lambda: listener.peers == [GW_A], f"dave's listener to see gwa ({GW_A})", timeout=2)
        # the internet has no route to the private space ...
        err = w.tcp_refused("inet", dave.address, HTTP_PORT, timeout=2)
        expect(err is None, f"inet reached dave's private address: {err}")
        # ... and a neighbour that routes it to gwa anyway is dropped by the CGN (world forward chain)
        w.ip(w.ns("inet"), f"route add {MNOS['a']['ue_net']} via {MNOS['a']['inet']}")
        err = w.tcp_refused("inet", dave.address, HTTP_PORT, timeout=2)
        expect(err is None, f"inet reached dave's private address through gwa: {err}")
        fwd = w.run("gwa", ["nft", "list", "chain", "ip", "world", "forward"]).stdout
        m = re.search(r"counter packets (\d+)", fwd)
        expect(m and int(m.group(1)) > 0, f"gwa's CGN drop did not count the attempt:\n{fwd}")
        # nothing is forwarded from the gateways' internet addresses or an unmapped public address
        for ns, target in (("inet", MNOS["a"]["inet"]), ("bill", MNOS["a"]["inet"]), ("bill", "198.51.100.2")):
            err = w.tcp_refused(ns, target, HTTP_PORT, timeout=2)
            expect(err is None, f"{ns} -> {target}:{HTTP_PORT} reached something: {err}")
        expect(listener.peers == [GW_A], f"dave's listener was reached from outside: {listener.peers}")
        expect(w.nft_table("gwa") == "", "a ueip table exists in gwa with no ueipd running")
        prefix = w.prefix
    left = [ns for ns in netns_list() if ns.startswith(prefix)]
    expect(not left, f"namespaces left after teardown: {left}")


# ---------------------------------------------------------------------------
# (b) dedicated address, download from another MNO

def test_dedicated_address_and_download():
    with World() as w:
        d, dave, bill = setup(w)
        agent = w.start_agent("dave")
        pub = agent.wait_address()
        maps = dedicated(d, dave)
        expect(len(maps) == 1, f"public-list ue={dave.address}: {maps}", w)
        m = maps[0]
        expect(m["external"] == pub and m["ue"] == dave.address and m["supi"] == dave.supi and
               m["via"] == "pcp" and 0 < m["lifetime_left"] <= 3600, f"mapping {m}, agent said {pub}", w)
        expect(in_nft(w, pub), f"{pub} not in gwa's ueip table:\n{w.nft_table('gwa')}", w)
        wait_until(lambda: any(pub in e for e in agent.events()), "--on-change to run with the address", 5)

        path, want = w.serve_file("dave", HTTP_PORT, 20 << 20)
        got, r = w.download("bill", f"http://{pub}:{HTTP_PORT}{path}")
        expect(got == want, f"bill's download from {pub}: sha256 {got} != {want}\n{r.stderr}", w)

        # 1:1 both ways: Dave's new outbound flows leave as his public address; Bill's as gwb
        whoami(w)
        seen = w.tcp_connect("dave", INET_ADDR, 7000, recv=True).decode()
        expect(seen == pub, f"dave's outbound left as {seen}, not {pub}", w)
        seen = w.tcp_connect("bill", INET_ADDR, 7000, recv=True).decode()
        expect(seen == MNOS["b"]["inet"], f"bill's outbound left as {seen}")

        st = agent.status()
        expect(st.returncode == 0 and pub in st.stdout, f"ueip public status: {st.stdout} {st.stderr}")
        expect(agent.proc.alive(), "the agent must stay (renewals, notices)", w)


# ---------------------------------------------------------------------------
# (c) a stock NAT-PMP client

def test_natpmpc():
    with World() as w:
        d, dave, bill = setup(w)
        r = w.run("dave", ["natpmpc", "-g", GW_A], timeout=30)
        m = re.search(r"Public IP address : (\S+)", r.stdout)
        expect(m and ipv4s_in(m.group(1), POOL_A), f"natpmpc: {r.stdout}", w)
        shared = m.group(1)

        path, want = w.serve_file("dave", 8081, 1 << 20)
        # natpmpc -a <public port> <private port> <protocol> [lifetime]
        r = w.run("dave", ["natpmpc", "-g", GW_A, "-a", "8081", "8081", "tcp", "3600"], timeout=30)
        m = re.search(r"Mapped public port (\d+) protocol TCP to local port 8081 liftime (\d+)", r.stdout)
        expect(m, f"natpmpc -a: {r.stdout}", w)
        eport, life = int(m.group(1)), int(m.group(2))
        expect(0 < life <= 3600, f"granted lifetime {life}")
        maps = [x for x in d.public_list(ue=dave.address) if x.get("kind") == "port"]
        expect(len(maps) == 1, f"public-list: {maps}", w)
        x = maps[0]
        expect(x["protocol"] == 6 and x["internal_port"] == 8081 and x["external"] == shared and
               x["external_port"] == eport and x["via"] == "natpmp", f"mapping {x}", w)

        got, r = w.download("bill", f"http://{shared}:{eport}{path}")
        expect(got == want, f"bill via {shared}:{eport}: {got} != {want}\n{r.stderr}", w)

        # deletion (RFC 6886 §3.4: lifetime 0, suggested external port 0)
        w.run("dave", ["natpmpc", "-g", GW_A, "-a", "0", "8081", "tcp", "0"], timeout=30)
        wait_until(lambda: not [x for x in d.public_list(ue=dave.address) if x.get("kind") == "port"],
                   "the port mapping to leave public-list", 5)
        err = w.tcp_refused("bill", shared, eport, timeout=3)
        expect(err is None, f"deleted port mapping still forwards: {err}", w)


# ---------------------------------------------------------------------------
# (d) withdrawal by the operator, with notice

def test_withdraw_notice():
    with World() as w:
        d, dave, bill = setup(w)
        agent = w.start_agent("dave")
        pub = agent.wait_address()
        path, want = w.serve_file("dave", HTTP_PORT, 1 << 20)
        got, _ = w.download("bill", f"http://{pub}:{HTTP_PORT}{path}")
        expect(got == want, "download before the withdrawal", w)

        mark = agent.proc.mark()
        a = d.ctl("public-withdraw", ue=dave.address, reason="e2e")
        expect(a.get("result") == 0, f"public-withdraw: {a}", w)
        agent.proc.wait_for(r"^withdrawn\b.*$", timeout=1.0, since=mark,
                            what="the agent to print 'withdrawn' within 1 s of the operator's answer")
        ev = wait_until(lambda: [e for e in agent.events() if "withdraw" in e[0].lower()],
                        "--on-change to run with UEIP_EVENT=withdrawn", 5)
        expect(ev, "no withdrawal event")

        err = w.tcp_refused("bill", pub, HTTP_PORT, timeout=3)
        expect(err is None, f"new connection to the withdrawn {pub} succeeded: {err}", w)
        # (an empty list also shows the agent did not ask again behind the operator's back)
        expect(not d.public_list(ue=dave.address), f"public-list still lists dave: {d.public_list()}", w)
        expect(not any(m.get("external") == pub for m in d.public_list()), f"{pub} still listed", w)
        expect(not in_nft(w, pub), f"{pub} still in gwa's ueip table:\n{w.nft_table('gwa')}", w)
        st = agent.status()
        expect("withdrawn" in st.stdout, f"ueip public status after withdrawal: {st.stdout} {st.stderr}")


# ---------------------------------------------------------------------------
# (e) only UE sessions may ask

def test_non_ue_refused():
    ues = [("dave", "a", "100.64.0.2"), ("bill", "b", "100.64.0.2"), ("eve", "a", "100.64.0.3")]
    with World(ues=ues) as w:
        d, dave, bill = setup(w)                       # eve is attached to gwa but has no session
        w.ue_add_address("dave", "100.64.0.99")        # an address on dave's link that no session holds
        w.ip(w.ns("inet"), f"route add {GW_A}/32 via {MNOS['a']['inet']}")  # the internet aims at the PCP port
        cases = [
            ("eve (no session)", "eve", "100.64.0.3"),
            ("dave's second address", "dave", "100.64.0.99"),
            ("the internet", "inet", INET_ADDR),
        ]
        for what, ns, src in cases:
            raw = w.pcp_exchange(ns, pcp_map(src), src=src)
            expect(raw is not None, f"{what}: no answer to a MAP", w)
            r = pcp_parse(raw)
            expect(r["response"] == 1 and r["opcode"] == PCP_MAP and r["result"] == NOT_AUTHORIZED and
                   r["lifetime"] == ERROR_LIFETIME, f"{what}: {r}", w)
        # NAT-PMP from eve: external address (op 0) and a TCP mapping (op 2)
        for req, op in ((struct.pack("!BB", 0, 0), 128), (struct.pack("!BBHHHI", 0, 2, 0, 8081, 8081, 3600), 130)):
            raw = w.pcp_exchange("eve", req, src="100.64.0.3")
            expect(raw is not None, f"NAT-PMP op {op - 128} from eve: no answer", w)
            r = natpmp_parse(raw)
            expect(r["opcode"] == op and r["result"] == NOT_AUTHORIZED, f"NAT-PMP from eve: {r}", w)
        # positive control: the same MAP from dave's session address succeeds
        r = pcp_parse(w.pcp_exchange("dave", pcp_map(dave.address), src=dave.address))
        expect(r["result"] == 0, f"dave's MAP: {r}", w)
        maps = d.public_list()
        expect(len(maps) == 1 and maps[0]["ue"] == dave.address, f"public-list: {maps}", w)
        log = d.log_text()
        for src in ("100.64.0.3", "100.64.0.99", INET_ADDR):
            expect(src in log, f"no log line names the refused source {src}", w)


# ---------------------------------------------------------------------------
# (f) SIGKILL and restart

def test_restart_keeps_mapping():
    with World() as w:
        d, dave, bill = setup(w)
        agent = w.start_agent("dave")
        pub = agent.wait_address()
        path, want = w.serve_file("dave", HTTP_PORT, 4 << 20)
        got, _ = w.download("bill", f"http://{pub}:{HTTP_PORT}{path}")
        expect(got == want, "download before the restart", w)
        e1 = pcp_parse(w.pcp_exchange("dave", pcp_announce(dave.address), src=dave.address))
        t1 = time.monotonic()

        mark = agent.proc.mark()
        d.kill()
        d.start()

        def works():
            cur = agent.current_address()
            sha, _ = w.download("bill", f"http://{cur}:{HTTP_PORT}{path}", timeout=10)
            return cur if sha == want else None
        cur = wait_until(works, "bill's download after the restart", timeout=30, interval=0.5)
        if cur != pub:
            expect(agent.proc.stdout()[mark:].strip(), "address changed but the agent said nothing", w)
        maps = dedicated(d, dave)
        expect(len(maps) == 1 and maps[0]["external"] == cur, f"public-list after restart: {maps}", w)
        expect(in_nft(w, cur), f"{cur} not in gwa's ueip table after restart", w)
        expect(agent.proc.alive() and "withdrawn" not in agent.proc.stdout()[mark:],
               f"agent after restart:\n{agent.proc.describe()}", w)
        # with keep_mappings (default) the PCP epoch keeps counting: clients see no reset
        e2 = pcp_parse(w.pcp_exchange("dave", pcp_announce(dave.address), src=dave.address))
        t2 = time.monotonic()
        expect(e1["result"] == 0 and e2["result"] == 0, f"ANNOUNCE answers {e1} {e2}", w)
        expect(e2["epoch"] + 2 >= e1["epoch"] + int(t2 - t1), f"epoch went back: {e1['epoch']} -> {e2['epoch']}", w)


def test_restart_without_state_reacquires():
    """keep_mappings: false: the restarted ueipd has lost the mapping, says so (ANNOUNCE, epoch
    reset) and the agent asks again: the download works again, never silently dropped."""
    with World() as w:
        d, dave, bill = setup(w, {"public": {"keep_mappings": False}})
        agent = w.start_agent("dave")
        pub = agent.wait_address()
        path, want = w.serve_file("dave", HTTP_PORT, 1 << 20)
        got, _ = w.download("bill", f"http://{pub}:{HTTP_PORT}{path}")
        expect(got == want, "download before the restart", w)
        # RFC 6887 §8.5 can only see a state loss when the old epoch was more than ~2 s: a server
        # that restarts within 2 s of its own start looks "consistent" (0 -> 0). Let it age first.
        wait_until(lambda: pcp_parse(w.pcp_exchange("dave", pcp_announce(dave.address),
                                                    src=dave.address))["epoch"] >= 4,
                   "the PCP epoch to pass 4 s", timeout=10, interval=0.5)
        mark = agent.proc.mark()
        d.kill()
        d.start()
        agent.proc.wait_for(r"\S", since=mark, timeout=5, what="the agent to report the server's state loss")
        e = pcp_parse(w.pcp_exchange("dave", pcp_announce(dave.address), src=dave.address))
        expect(e["result"] == 0 and e["epoch"] < 5, f"epoch after a restart without state: {e}", w)

        def works():
            cur = agent.current_address()
            maps = dedicated(d, dave)
            if not (maps and maps[0]["external"] == cur):
                return None
            sha, _ = w.download("bill", f"http://{cur}:{HTTP_PORT}{path}", timeout=10)
            return cur if sha == want else None
        cur = wait_until(works, "the agent to re-acquire and the download to work", timeout=15, interval=0.3)
        expect(in_nft(w, cur), f"{cur} not in gwa's ueip table", w)
        expect(agent.proc.alive() and "withdrawn" not in agent.proc.stdout()[mark:],
               f"agent after restart:\n{agent.proc.describe()}", w)


# ---------------------------------------------------------------------------
# (g) expiry without renewal

def test_expiry_removes_mapping():
    cfg = {"public": {"lifetime": {"min": 2, "max": 3600, "default": 2}}}
    with World() as w:
        d, dave, bill = setup(w, cfg)
        state = os.path.join(w.dir, "once.state.json")
        r = w.run("dave", [binary("ueip"), "public", "request", "--server", GW_A, "--once", "--lifetime", "2",
                           "--state", state], timeout=30)
        got = ipv4s_in(r.stdout, POOL_A)
        expect(got, f"ueip --once printed no address: {r.stdout} {r.stderr}", w)
        pub = got[0]
        maps = dedicated(d, dave)
        expect(len(maps) == 1 and maps[0]["external"] == pub and maps[0]["lifetime_left"] <= 2,
               f"public-list right after the grant: {maps}", w)
        wait_until(lambda: not dedicated(d, dave) and not in_nft(w, pub),
                   f"{pub} to leave public-list and nft after its 2 s lifetime", timeout=8)
        err = w.tcp_refused("bill", pub, HTTP_PORT, timeout=2)
        expect(err is None, f"expired {pub} still forwards: {err}", w)


# ---------------------------------------------------------------------------
# (h) bad input: each answered with its result code, nothing changes

def test_bad_input():
    with World() as w:
        d, dave, bill = setup(w)
        me = dave.address
        nonce = os.urandom(12)
        good = pcp_map(me, nonce=nonce)
        ok = pcp_parse(w.pcp_exchange("dave", good, src=me))
        expect(ok["result"] == 0 and ipv4s_in(ok["external"], POOL_A), f"valid MAP: {ok}", w)
        before, nft_before = snapshot(d), sorted(ipv4s_in(w.nft_table("gwa")))

        oversized = good + bytes(1104 - len(good))
        r_bit = bytearray(good)
        r_bit[1] |= 0x80
        answered = [
            ("2..23 octets", good[:12], 3),
            ("MAP without all its opcode data", good[:44], 3),
            ("length not a multiple of 4", good + b"\0", 3),
            ("oversized (1104 octets)", oversized, 3),
            ("version 3", pcp_map(me, version=3), 1),
            ("unknown opcode 5", pcp_map(me, opcode=5), 4),
            ("unknown mandatory option 100", pcp_map(me, options=pcp_option(100, bytes(4))), 5),
            ("client address != source", pcp_map("100.64.0.3"), ADDRESS_MISMATCH),
            ("THIRD_PARTY from a UE", pcp_map(me, options=pcp_option(OPT_THIRD_PARTY, v4mapped(me))),
             NOT_AUTHORIZED),
        ]
        for what, req, code in answered:
            raw = w.pcp_exchange("dave", req, src=me)
            expect(raw is not None, f"{what}: no answer", w)
            expect(len(raw) <= 1100 and len(raw) % 4 == 0, f"{what}: answer of {len(raw)} octets", w)
            r = pcp_parse(raw)
            expect(r["response"] == 1 and r["result"] == code and r["version"] == 2,
                   f"{what}: expected result {code}, got {r}", w)
            expect(r["opcode"] == req[1] & 0x7f, f"{what}: opcode {r['opcode']} not echoed", w)
            expect(r["lifetime"] == ERROR_LIFETIME, f"{what}: error lifetime {r['lifetime']}", w)
        for what, req in (("empty datagram", b""), ("1 octet", b"\x02"), ("R bit set", bytes(r_bit))):
            raw = w.pcp_exchange("dave", req, src=me, timeout=1.0)
            expect(raw is None, f"{what}: answered {raw!r}, must be dropped", w)
        # an unknown optional option (>= 128) is skipped (RFC 6887 §7.3): a plain renewal
        r = pcp_parse(w.pcp_exchange("dave", pcp_map(me, nonce=nonce, options=pcp_option(200, bytes(4))), src=me))
        expect(r["result"] == 0 and r["external"] == ok["external"], f"optional option: {r}", w)

        expect(snapshot(d) == before, f"public-list changed:\n{before}\n{snapshot(d)}", w)
        expect(sorted(ipv4s_in(w.nft_table("gwa"))) == nft_before, "gwa's ueip table changed", w)
        expect(d.alive(), "ueipd died on bad input", w)
        again = pcp_parse(w.pcp_exchange("dave", good, src=me))
        expect(again["result"] == 0 and again["external"] == ok["external"], f"valid MAP after: {again}", w)


if __name__ == "__main__":
    run_tests([test_world_baseline, test_dedicated_address_and_download, test_natpmpc, test_withdraw_notice,
               test_non_ue_refused, test_restart_keeps_mapping, test_restart_without_state_reacquires,
               test_expiry_removes_mapping, test_bad_input])
