#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""One-member behaviour of the session interface: what an SMF sees."""
import ipaddress
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from ueiptest import SetWorld, expect, run, session_args, Client, wait_until  # noqa: E402

STATIC = "{ supi: imsi-001010000000001, dnn: internet, address: 100.64.0.10 }"


def test_create_get_list_release():
    w = SetWorld(1, statics=[STATIC]).start()
    try:
        m = w.members[0]
        a = m.call("session-create", **session_args(1, ip_type="v4v6"))
        expect(a["result"] == 0, f"create failed: {a}", w)
        v4 = ipaddress.ip_address(a["arguments"]["ipv4"])
        v6 = ipaddress.ip_network(a["arguments"]["ipv6-prefix"])
        expect(v4 in ipaddress.ip_network("100.64.0.0/20"), f"v4 {v4} outside the pool")
        expect(v6.prefixlen == 64 and v6.subnet_of(ipaddress.ip_network("2001:db8::/48")), f"v6 {v6}")
        expect(str(v4) != "100.64.0.10", "a static address was handed out dynamically")
        again = m.call("session-create", **session_args(1, ip_type="v4v6"))
        expect(again["result"] == 0 and again["arguments"]["ipv4"] == str(v4) and
               again["arguments"]["ipv6-prefix"] == str(v6), f"second create differs: {again}")
        got = m.call("session-get", **{k: v for k, v in session_args(1).items() if k != "ip_type"})
        expect(got["result"] == 0 and got["arguments"]["ipv4"] == str(v4), f"get: {got}")
        for i in range(2, 6):
            expect(m.call("session-create", **session_args(i))["result"] == 0, "create")
        page = m.call("session-list", limit=3)
        expect(page["result"] == 0 and page["arguments"]["count"] == 3 and "next" in page["arguments"], f"{page}")
        rest = m.call("session-list", limit=3, **{"from": page["arguments"]["next"]})
        expect(rest["arguments"]["count"] == 2 and "next" not in rest["arguments"], f"{rest}")
        rel = m.call("session-release", **{k: v for k, v in session_args(1).items() if k != "ip_type"})
        expect(rel["result"] == 0, f"release: {rel}")
        gone = m.call("session-get", **{k: v for k, v in session_args(1).items() if k != "ip_type"})
        expect(gone["result"] == 3, f"released session still there: {gone}")
        expect(len(m.store_sessions()) == 4, "store does not match")
    finally:
        w.close()


def test_static_reservations():
    w = SetWorld(1, statics=[STATIC]).start()
    try:
        m = w.members[0]
        args = session_args(0, ip_type="v4")
        args["supi"] = "imsi-001010000000001"
        a = m.call("session-create", address="100.64.0.10", **args)
        expect(a["result"] == 0 and a["arguments"]["ipv4"] == "100.64.0.10" and a["arguments"]["static"], f"{a}")
        other = dict(args, pdu_session_id=2)
        b = m.call("session-create", address="100.64.0.10", **other)
        expect(b["result"] == 4 and b["arguments"]["error"] == "UEIP_EINUSE", f"static held twice: {b}")
        c = m.call("session-create", address="100.64.0.10", **session_args(7))
        expect(c["result"] == 4 and c["arguments"]["error"] == "UEIP_ESTATICOTHER", f"{c}")
        d = m.call("session-create", address="10.1.2.3", **session_args(8))
        expect(d["result"] == 1 and d["arguments"]["error"] == "UEIP_EOUTOFPOOL", f"{d}")
        e = m.call("session-create", address="100.64.0.11", **session_args(9))
        expect(e["result"] == 1 and e["arguments"]["error"] == "UEIP_ENOTSTATIC", f"{e}")
        expect(len(m.store_sessions()) == 1, "refused creates changed the store")
    finally:
        w.close()


def test_bad_input_changes_nothing():
    w = SetWorld(1, pools=["{ name: tiny, dnn: internet, ipv4: 100.64.0.0/26 }"]).start()
    try:
        m = w.members[0]
        expect(m.call("session-create", **session_args(1))["result"] == 0, "first create")
        before = m.store_sessions()
        cases = [
            (dict(session_args(2), dnn="nosuchdnn"), "UEIP_EUNKNOWNDNN"),
            (dict(session_args(2), supi="bob"), "UEIP_EINVAL"),
            (dict(session_args(2), pdu_session_id=16), "UEIP_EINVAL"),
            (dict(session_args(2), ip_type="v5"), "UEIP_EINVAL"),
            (dict(session_args(2), ip_type="v6"), "UEIP_EUNKNOWNDNN"),
            (dict(session_args(2), snssai="1-zz"), "UEIP_EINVAL"),
        ]
        for args, err in cases:
            a = m.call("session-create", **args)
            expect(a["result"] != 0 and a["arguments"]["error"] == err, f"{args} -> {a}, expected {err}")
        c = Client(m.sock)
        for raw in [b"{not json}\n", b"[1,2]\n", b"{\"command\": 5}\n", b"{\"command\":\"x\",\"arguments\":[]}\n"]:
            c.send_raw(raw)
            a = c.read_answer()
            expect(a["result"] == 1, f"{raw!r} -> {a}")
        c.send_raw(b"{\"command\":\"frobnicate\"}\n")
        expect(c.read_answer()["result"] == 2, "unknown command must be result 2")
        c.close()
        big = Client(m.sock)
        big.send_raw(b"{\"command\":\"session-get\",\"arguments\":{\"supi\":\"" + b"9" * 70000)
        expect(big.read_answer()["result"] == 1, "oversized request must be refused")
        big.close()
        expect(m.store_sessions() == before, "refused requests changed the store")
        # exhaustion: a /26 has 64 addresses, one of them taken above
        for i in range(2, 65):
            expect(m.call("session-create", **session_args(i))["result"] == 0, f"create {i}")
        ex = m.call("session-create", **session_args(100))
        expect(ex["result"] == 1 and ex["arguments"]["error"] == "UEIP_EEXHAUSTED", f"{ex}")
        expect(len(m.store_sessions()) == 64, "exhaustion changed the store")
        expect(m.alive(), "ueipd died on bad input", w)
    finally:
        w.close()


def test_quarantine_then_reuse():
    w = SetWorld(1, pools=["{ name: tiny, dnn: internet, ipv4: 100.64.0.0/26 }"], quarantine=1).start()
    try:
        m = w.members[0]
        for i in range(64):
            expect(m.call("session-create", **session_args(i))["result"] == 0, "fill")
        first = m.call("session-get", **{k: v for k, v in session_args(0).items() if k != "ip_type"})
        addr = first["arguments"]["ipv4"]
        m.call("session-release", **{k: v for k, v in session_args(0).items() if k != "ip_type"})
        now = m.call("session-create", **session_args(500))
        expect(now["result"] == 1 and now["arguments"]["error"] == "UEIP_EEXHAUSTED",
               f"quarantined address reused at once: {now}")
        later = wait_until(lambda: (lambda a: a if a["result"] == 0 else None)(
            m.call("session-create", **session_args(501))), "quarantine to end", timeout=5)
        expect(later["arguments"]["ipv4"] == addr, f"expected {addr} back, got {later}")
    finally:
        w.close()


def test_restart_keeps_sessions():
    w = SetWorld(1).start()
    try:
        m = w.members[0]
        addrs = {m.call("session-create", **session_args(i))["arguments"]["ipv4"] for i in range(50)}
        m.kill()
        m.start()
        for i in range(50):
            g = m.call("session-get", **{k: v for k, v in session_args(i).items() if k != "ip_type"})
            expect(g["result"] == 0 and g["arguments"]["ipv4"] in addrs, f"lost after SIGKILL: {g}")
        fresh = m.call("session-create", **session_args(99))["arguments"]["ipv4"]
        expect(fresh not in addrs, "an address was handed out twice after restart")
    finally:
        w.close()


def test_reload_statics_and_refusals():
    import signal
    w = SetWorld(1).start()
    try:
        m = w.members[0]
        args = dict(session_args(0), supi="imsi-001010000000001")
        expect(m.call("session-create", address="100.64.0.10", **args)["arguments"]["error"] == "UEIP_ENOTSTATIC",
               "not yet a static")
        w.chunk_size = 128          # not reloadable: the reload must be refused, the old config kept
        w.statics = [STATIC]
        m.write_config(w.members)
        m.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "reload refused" in open(m.log).read(), "the refusal to be logged")
        expect(m.call("session-create", address="100.64.0.10", **args)["arguments"]["error"] == "UEIP_ENOTSTATIC",
               "a refused reload changed the config")
        w.chunk_size = 64
        m.write_config(w.members)
        m.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "configuration reloaded" in open(m.log).read(), "the reload")
        got = m.call("session-create", address="100.64.0.10", **args)
        expect(got["result"] == 0 and got["arguments"]["static"], f"static after reload: {got}", w)
    finally:
        w.close()


def test_metrics_endpoint():
    import urllib.request
    w = SetWorld(1).start()
    try:
        m = w.members[0]
        for i in range(3):
            m.call("session-create", **session_args(i))
        m.call("session-create", **dict(session_args(9), dnn="nosuchdnn"))
        url = f"http://127.0.0.1:{m.metrics_port}/metrics"
        body = urllib.request.urlopen(url, timeout=5).read().decode()
        want = ['ueip_pool_units{pool="inet4",member="smf1",state="used"} 3',
                'ueip_requests_total{command="session-create"} 4',
                'ueip_request_errors_total{command="session-create",error="UEIP_EUNKNOWNDNN"} 1',
                'ueip_sessions{member="smf1"} 3', "ueip_recovery_duration_seconds", "ueip_handoff_duration_seconds",
                "ueip_store_commits_total"]
        for line in want:
            expect(line in body, f"/metrics lacks {line!r}:\n{body}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{m.metrics_port}/other", timeout=5)
            expect(False, "/other must be 404")
        except urllib.error.HTTPError as e:
            expect(e.code == 404, f"/other answered {e.code}")
    finally:
        w.close()


if __name__ == "__main__":
    run([test_create_get_list_release, test_static_reservations, test_bad_input_changes_nothing,
         test_quarantine_then_reuse, test_restart_keeps_sessions, test_reload_statics_and_refusals,
         test_metrics_endpoint])
