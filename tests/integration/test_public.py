#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The PCP / NAT-PMP server of ueipd on loopback (seed 000), with the null data path.

UEs get addresses in 127.100.0.0/24 so a test can send from a UE's address
without root; the namespace world with nftables is tests/e2e.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import pcpwire as pw  # noqa: E402
from ueiptest import SetWorld, expect, run, session_args, wait_until  # noqa: E402

UE_POOL = "{ name: ue4, dnn: internet, ipv4: 127.100.0.1-127.100.0.250 }"


def public_world(extra=(), quota_ports=4):
    lines = ["public:", "  pcp: { address: 127.0.0.1:{pcp_port} }",
             "  pools: [ { name: pub-a, ipv4: 198.51.100.10-198.51.100.200 } ]",
             "  shared: { pool: pub-a, port_min: 20000, port_max: 20999 }",
             "  lifetime: { min: 1, max: 7200, default: 3600 }",
             f"  quota: {{ dedicated: 1, ports: {quota_ports} }}",
             "  third_party: [ { prefix: 127.0.0.0/24 } ]"]
    lines += list(extra)
    lines += ["dataplane: { backend: null }"]
    return SetWorld(1, pools=[UE_POOL], extra=lines).start()


def ue_session(m, i=1):
    a = m.call("session-create", **session_args(i))
    expect(a["result"] == 0, f"session-create: {a}")
    return a["arguments"]["ipv4"]


def listing(m, **kw):
    a = m.call("public-list", **kw)
    return a.get("arguments", {}).get("mappings", []) if a["result"] == 0 else []


def test_map_dedicated_port_renew_delete():
    w = public_world()
    try:
        m = w.members[0]
        ue = ue_session(m)
        c = pw.Client(ue, ("127.0.0.1", m.pcp_port))
        data, nonce = pw.map_request(ue)
        r = pw.parse(c.ask(data))
        expect(r and r["result"] == pw.SUCCESS and r["response"] == 1, f"MAP all: {r}", w)
        ext = r["external"]
        expect(ext.startswith("198.51.100.") and r["lifetime"] == 3600 and r["nonce"] == nonce, f"{r}")
        got = listing(m)
        expect(len(got) == 1 and got[0]["external"] == ext and got[0]["kind"] == "dedicated", f"{got}")
        # a port mapping rides on the dedicated address: external port = internal port
        pdata, _ = pw.map_request(ue, proto=6, iport=8080)
        pr = pw.parse(c.ask(pdata))
        expect(pr["result"] == 0 and pr["external"] == ext and pr["external_port"] == 8080, f"{pr}")
        # renewal with the same nonce: same address, new lifetime
        again = pw.parse(c.ask(pw.map_request(ue, lifetime=600, nonce=nonce)[0]))
        expect(again["result"] == 0 and again["external"] == ext and again["lifetime"] == 600, f"{again}")
        # another nonce for the same mapping: NOT_AUTHORIZED, nothing changes
        other = pw.parse(c.ask(pw.map_request(ue, lifetime=0)[0]))
        expect(other["result"] == pw.NOT_AUTHORIZED, f"foreign nonce: {other}")
        expect(len(listing(m)) == 2, "a refused delete changed the mappings")
        # the holding is durable, in the sessions table like any address
        held = [r for r in m.store_sessions() if r[1].startswith("pub-a.public.")]
        expect(len(held) == 1, f"public holding rows: {held}")
        gone = pw.parse(c.ask(pw.map_request(ue, lifetime=0, nonce=nonce)[0]))
        expect(gone["result"] == 0 and gone["lifetime"] == 0, f"delete: {gone}")
        expect(listing(m) == [], "delete left mappings (the rider must go with its address)")
        expect(not [r for r in m.store_sessions() if r[1].startswith("pub-a.")], "holding not let go")
        c.close()
    finally:
        w.close()


def test_refusals_change_nothing():
    w = public_world()
    try:
        m = w.members[0]
        ue = ue_session(m)
        srv = ("127.0.0.1", m.pcp_port)
        c = pw.Client(ue, srv)
        cases = [
            ("wrong version", pw.map_request(ue, version=1)[0], pw.UNSUPP_VERSION),
            ("three octets", b"\x02\x01\x00", pw.MALFORMED_REQUEST),
            ("oversized", pw.map_request(ue)[0] + b"\0" * 1044, pw.MALFORMED_REQUEST),
            ("not a multiple of 4", pw.map_request(ue)[0] + b"\0\0", pw.MALFORMED_REQUEST),
            ("unknown opcode", pw.map_request(ue, opcode=9)[0], pw.UNSUPP_OPCODE),
            ("unknown mandatory option", pw.map_request(ue, options=pw.option(99, b"\0" * 4))[0],
             pw.UNSUPP_OPTION),
            ("filter too long", pw.map_request(ue, options=pw.option(3, b"\0" * 24))[0],
             pw.MALFORMED_OPTION),
            ("client address mismatch", pw.map_request("127.100.0.99")[0], pw.ADDRESS_MISMATCH),
            ("THIRD_PARTY from a UE", pw.map_request(ue, options=pw.option(1, pw.mapped(ue)))[0],
             pw.NOT_AUTHORIZED),
            ("SCTP", pw.map_request(ue, proto=132, iport=5)[0], pw.UNSUPP_PROTOCOL),
        ]
        for what, data, want in cases:
            r = pw.parse(c.ask(data))
            expect(r is not None and r["result"] == want and r["response"] == 1,
                   f"{what}: expected result {want}, got {r}", w)
        expect(c.ask(b"\x02") is None, "a 1-octet datagram must be dropped silently")
        outsider = pw.Client("127.0.0.1", srv)
        r = pw.parse(outsider.ask(pw.map_request("127.0.0.1")[0]))
        expect(r["result"] == pw.NOT_AUTHORIZED, f"non-UE source: {r}")
        expect(listing(m) == [], "a refused request created a mapping")
        stats = m.call("public-stats")["arguments"]
        expect(stats["mappings"] == 0 and stats["results"].get("NOT_AUTHORIZED") == 2, f"{stats}")
        expect(m.proc.poll() is None, "ueipd died on bad input")
        c.close()
        outsider.close()
    finally:
        w.close()


def test_notices_on_expiry_withdraw_and_release():
    w = public_world()
    try:
        m = w.members[0]
        ue = ue_session(m)
        c = pw.Client(ue, ("127.0.0.1", m.pcp_port))
        # expiry: lifetime 1 s, no renewal
        data, nonce = pw.map_request(ue, proto=17, iport=9999, lifetime=1)
        r = pw.parse(c.ask(data))
        expect(r["result"] == 0 and r["lifetime"] == 1, f"{r}")
        n = pw.parse(c.listen(5))
        expect(n and n["lifetime"] == 0 and n["nonce"] == nonce and n["internal_port"] == 9999,
               f"no expiry notice: {n}", w)
        expect(listing(m) == [], "expired mapping still listed")
        # withdrawal by the operator reaches the UE within a second
        data, nonce = pw.map_request(ue)
        ext = pw.parse(c.ask(data))["external"]
        t0 = time.monotonic()
        wd = m.call("public-withdraw", ue=ue)
        expect(wd["result"] == 0 and wd["arguments"]["withdrawn"][0]["external"] == ext, f"{wd}")
        n = pw.parse(c.listen(1.0))
        expect(n and n["lifetime"] == 0 and n["nonce"] == nonce and n["external"] == ext,
               f"withdraw notice not within 1 s: {n}")
        expect(time.monotonic() - t0 < 1.0, "notice too late")
        # session release ends the UE's mappings with notice
        c2 = pw.Client(ue, ("127.0.0.1", m.pcp_port))
        data, nonce = pw.map_request(ue, proto=6, iport=7000)
        expect(pw.parse(c2.ask(data))["result"] == 0, "port mapping")
        args = {k: v for k, v in session_args(1).items() if k != "ip_type"}
        expect(m.call("session-release", **args)["result"] == 0, "release")
        n = pw.parse(c2.listen(2.0))
        expect(n and n["lifetime"] == 0 and n["nonce"] == nonce, f"release notice: {n}")
        expect(listing(m) == [], "mappings of a released session remain")
        c.close()
        c2.close()
    finally:
        w.close()


def test_restart_keeps_mappings():
    w = public_world()
    try:
        m = w.members[0]
        ue = ue_session(m)
        c = pw.Client(ue, ("127.0.0.1", m.pcp_port))
        data, nonce = pw.map_request(ue)
        first = pw.parse(c.ask(data))
        expect(first["result"] == 0, f"{first}")
        m.kill()
        m.start()
        got = listing(m)
        expect(len(got) == 1 and got[0]["external"] == first["external"], f"after SIGKILL: {got}", w)
        again = wait_until(lambda: pw.parse(c.ask(pw.map_request(ue, nonce=nonce)[0])), "renewal answered")
        expect(again["result"] == 0 and again["external"] == first["external"], f"renewal: {again}")
        expect(again["epoch"] >= first["epoch"], "the epoch went back although no state was lost")
        stats = m.call("public-stats")["arguments"]
        expect(stats["dataplane"]["installed"] == 1, f"data path not rebuilt: {stats}")
        c.close()
    finally:
        w.close()


def test_natpmp_and_quota():
    w = public_world(quota_ports=2)
    try:
        m = w.members[0]
        ue = ue_session(m)
        c = pw.Client(ue, ("127.0.0.1", m.pcp_port))
        r = pw.natpmp_parse(c.ask(pw.natpmp_address_request()))
        expect(r and r["opcode"] == 128 and r["result"] == 0 and r["external"].startswith("198.51.100."),
               f"NAT-PMP address: {r}", w)
        t = pw.natpmp_parse(c.ask(pw.natpmp_map_request(2, 8081, 8081, 3600)))
        expect(t["opcode"] == 130 and t["result"] == 0 and 20000 <= t["external_port"] <= 20999 and
               t["lifetime"] == 3600, f"NAT-PMP map: {t}")
        expect(listing(m)[0]["external"] == r["external"], "mapping not on the announced address")
        u = pw.natpmp_parse(c.ask(pw.natpmp_map_request(1, 5000, 0, 60)))
        expect(u["result"] == 0, f"second mapping: {u}")
        over = pw.natpmp_parse(c.ask(pw.natpmp_map_request(1, 5001, 0, 60)))
        expect(over["result"] == 4, f"over quota must be OUT_OF_RESOURCES: {over}")
        q = pw.parse(c.ask(pw.map_request(ue, proto=6, iport=9)[0]))
        expect(q["result"] == pw.USER_EX_QUOTA, f"PCP over quota: {q}")
        bad = c.ask(b"\x00\x07")
        # RFC 6886 §3.5: the request comes back with the opcode's top bit set and result 5
        expect(bad is not None and bad[:4] == b"\x00\x87\x00\x05", f"unknown NAT-PMP opcode: {bad!r}")
        d = pw.natpmp_parse(c.ask(pw.natpmp_map_request(2, 8081, 0, 0)))
        expect(d["result"] == 0 and len(listing(m)) == 1, f"NAT-PMP delete: {d}")
        outsider = pw.Client("127.0.0.1", ("127.0.0.1", m.pcp_port))
        no = pw.natpmp_parse(outsider.ask(pw.natpmp_address_request()))
        expect(no["result"] == 2, f"non-UE NAT-PMP: {no}")
        # THIRD_PARTY from an operator-authorised source, for the UE
        tp = pw.parse(outsider.ask(pw.map_request("127.0.0.1", options=pw.option(1, pw.mapped(ue)))[0]))
        expect(tp["result"] == 0 and tp["external"].startswith("198.51.100."), f"THIRD_PARTY: {tp}")
        expect(any(x["kind"] == "dedicated" and x["ue"] == ue for x in listing(m)), "third-party mapping")
        c.close()
        outsider.close()
    finally:
        w.close()


if __name__ == "__main__":
    run([test_map_dedicated_port_renew_delete, test_refusals_change_nothing,
         test_notices_on_expiry_withdraw_and_release, test_restart_keeps_mappings,
         test_natpmp_and_quota])
