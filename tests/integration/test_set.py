#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""An SMF set of real ueipd processes: uniqueness, release broadcast, recovery,
membership change, and the races the design closes (docs/ipam-design.md)."""
import ipaddress
import os
import random
import sqlite3
import sys
import threading

sys.path.insert(0, os.path.dirname(__file__))
from ueiptest import SetWorld, expect, run, session_args, wait_until  # noqa: E402

BIG_POOLS = ["{ name: inet4, dnn: internet, ipv4: 100.64.0.0/16 }",
             "{ name: inet6, dnn: internet, ipv6: \"2001:db8::/48\", delegated_length: 64 }"]


def key(i, psi=1):
    return {k: v for k, v in session_args(i, psi).items() if k != "ip_type"}


def status(m):
    return m.call("set-status")["arguments"]


def used_total(world):
    """Units used, summed over what each member counts for the chunks it owns."""
    total = 0
    for m in world.members:
        if not m.alive():
            continue
        for p in m.call("pool-stats")["arguments"]["pools"]:
            for e in p["members"]:
                if e["member"] == m.id:
                    total += e["used"]
    return total


def live_units(world):
    held, _ = world.all_held([m for m in world.members if os.path.exists(m.db)])
    return len(held)


def no_duplicates(world):
    held, dups = world.all_held([m for m in world.members if os.path.exists(m.db)])
    expect(not dups, f"addresses held twice: {dups[:5]}", world)
    return held


def settle(world):
    """Every live member active, no hand-off or outbox outstanding."""
    def ok():
        for m in world.members:
            if not m.alive():
                continue
            s = status(m)
            if s["state"] != "active" or s["handoff"]["active"] or s["outbox"] or s["recovery"]["running"]:
                return False
        return True
    wait_until(ok, "the set to settle", timeout=20)


def owner_of_session(world, i, ip_type="v4"):
    for m in world.members:
        if m.alive() and m.call("session-get", **key(i))["result"] == 0:
            return m
    return None


def test_concurrent_creates_unique():
    w = SetWorld(3, pools=BIG_POOLS).start()
    try:
        errors = []

        def load(m, base):
            c = m.client()
            for i in range(base, base + 300):
                a = c.call("session-create", **session_args(i, ip_type="v4v6"))
                if a["result"] != 0:
                    errors.append(a)
            c.close()
        threads = [threading.Thread(target=load, args=(m, 1000 * (n + 1))) for n, m in enumerate(w.members)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        expect(not errors, f"creates failed: {errors[:3]}", w)
        held = no_duplicates(w)
        expect(len(held) == 3 * 300 * 2, f"expected 1800 units held, found {len(held)}")
        expect(used_total(w) == 1800, f"pool-stats disagree: {used_total(w)} used")
        one = w.members[0].call("pool-stats")["arguments"]["pools"]
        per_member = sum(e["used"] for p in one for e in p["members"])
        expect(per_member == 1800, f"pool-stats of one member sums the set's usage to {per_member}: {one}", w)
    finally:
        w.close()


def test_transfer_then_release_on_non_owner():
    w = SetWorld(3).start()
    try:
        a, b, _ = w.members
        s = a.call("session-create", **session_args(1))["arguments"]
        t = a.call("session-transfer", to="smf2", **key(1))
        expect(t["result"] == 0 and t["arguments"]["controller"] == "smf2", f"transfer: {t}", w)
        expect(a.call("session-get", **key(1))["result"] == 3, "old controller still has the session")
        expect(b.call("session-get", **key(1))["arguments"]["ipv4"] == s["ipv4"], "new controller lacks it")
        expect(status(a)["lent"] == 1, "owner must count the unit as lent")
        r = b.call("session-release", **key(1))
        expect(r["result"] == 0, f"release on non-owner: {r}", w)
        wait_until(lambda: status(b)["outbox"] == 0 and status(a)["lent"] == 0,
                   "the owner to apply the broadcast release")
        again = [a.call("session-create", **session_args(100 + i))["arguments"]["ipv4"] for i in range(3)]
        expect(s["ipv4"] in again, f"freed {s['ipv4']} not allocated again: {again}", w)
        no_duplicates(w)
    finally:
        w.close()


def test_release_while_owner_down():
    w = SetWorld(3).start()
    try:
        a, b, c = w.members
        freed = a.call("session-create", **session_args(1))["arguments"]["ipv4"]
        kept = a.call("session-create", **session_args(2))["arguments"]["ipv4"]
        a.call("session-transfer", to="smf2", **key(1))
        a.call("session-transfer", to="smf3", **key(2))
        a.kill()
        expect(b.call("session-release", **key(1))["result"] == 0, "release while owner down", w)
        expect(status(b)["outbox"] == 1, "the release must wait in the outbox")
        a.start()
        settle(w)
        expect(status(a)["lent"] == 1, f"owner lent count after recovery: {status(a)}", w)
        got = [a.call("session-create", **session_args(200 + i))["arguments"]["ipv4"] for i in range(64)]
        expect(freed in got, f"{freed} leaked: never allocated again", w)
        expect(kept not in got, f"{kept} held by smf3 was handed out again", w)
        no_duplicates(w)
    finally:
        w.close()


def test_recovery_frees_missed_release_and_repairs_drift():
    """A release the owner never heard of (its lent row has no holder) is freed by recovery;
    a unit a peer holds that the owner forgot is marked used again."""
    w = SetWorld(3).start()
    try:
        a, b, _ = w.members
        held = a.call("session-create", **session_args(1))["arguments"]["ipv4"]
        a.call("session-transfer", to="smf2", **key(1))
        ghost = a.call("session-create", **session_args(2))["arguments"]["ipv4"]
        a.call("session-transfer", to="smf2", **key(2))
        b.kill()
        a.stop()
        con = sqlite3.connect(b.db)
        con.execute("DELETE FROM sessions WHERE supi = ?", (session_args(2)["supi"],))
        con.commit()
        con.close()
        con = sqlite3.connect(a.db)
        base = int(ipaddress.ip_address("100.64.0.0"))
        con.execute("DELETE FROM lent WHERE idx = ?", (int(ipaddress.ip_address(held)) - base,))
        con.commit()
        con.close()
        b.start(wait_active=False)
        a.start()
        settle(w)
        rec = status(a)["recovery"]
        expect(rec["last-complete"] and rec["last-freed"] == 1 and rec["last-added"] == 1,
               f"recovery did not repair: {rec}", w)
        got = [a.call("session-create", **session_args(300 + i))["arguments"]["ipv4"] for i in range(64)]
        expect(ghost in got and held not in got, f"ghost {ghost} / held {held} in {got}", w)
        audit = a.call("set-audit")
        expect(audit["result"] == 0 and audit["arguments"]["complete"] and audit["arguments"]["freed"] == 0 and
               audit["arguments"]["added"] == 0, f"audit after repair: {audit}", w)
        no_duplicates(w)
    finally:
        w.close()


def test_sigkill_under_load():
    rounds = int(os.environ.get("UEIP_KILL_ROUNDS", "20"))
    w = SetWorld(3, pools=BIG_POOLS, recovery_timeout_ms=1500).start()
    acked = {}          # key index -> must exist (True) / released (False) / unknown (None)
    lock = threading.Lock()
    stop = threading.Event()
    try:
        def load(n):
            rnd = random.Random(n)
            i = n * 1_000_000
            while not stop.is_set():
                m = w.members[rnd.randrange(3)]
                try:
                    c = m.client()
                    for _ in range(20):
                        i += 1
                        a = c.call("session-create", **session_args(i % 100_000_000, ip_type="v4v6"))
                        if a["result"] == 0:
                            with lock:
                                acked[i % 100_000_000] = True
                        if rnd.random() < 0.3:
                            k = i % 100_000_000
                            with lock:
                                if acked.get(k):
                                    acked[k] = None   # a release whose answer may never come
                            r = c.call("session-release", **key(k))
                            if r["result"] == 0:
                                with lock:
                                    acked[k] = False
                        if rnd.random() < 0.1 and a["result"] == 0:
                            c.call("session-transfer", to=w.members[rnd.randrange(3)].id, **key(i % 100_000_000))
                    c.close()
                except (OSError, ConnectionError, ValueError):
                    pass
        threads = [threading.Thread(target=load, args=(n,)) for n in range(1, 4)]
        for t in threads:
            t.start()
        rnd = random.Random(7)
        for _ in range(rounds):
            wait_until(lambda: len(acked) > 0, "some load")
            victim = w.members[rnd.randrange(3)]
            before = len(acked)
            wait_until(lambda: len(acked) >= before + rnd.randrange(5, 60), "load before the kill", timeout=20)
            victim.kill()
            victim.start(wait_active=False)
            victim.wait_active(timeout=20)
        stop.set()
        for t in threads:
            t.join()
        settle(w)
        held = no_duplicates(w)
        keys = set()
        for m in w.members:
            keys |= {r[0] for r in m.store_rows("SELECT supi FROM sessions")}
        lost = [k for k, live in acked.items() if live and session_args(k)["supi"] not in keys]
        expect(not lost, f"{len(lost)} acknowledged sessions lost, e.g. {lost[:5]}", w)
        expect(used_total(w) == len(held), f"usage {used_total(w)} != held units {len(held)} (leak)", w)
        print(f"     {rounds} kills, {len(acked)} acknowledged sessions, {len(held)} units held")
    finally:
        stop.set()
        w.close()


def test_membership_3_4_3():
    w = SetWorld(3, pools=BIG_POOLS).start()
    try:
        for n, m in enumerate(w.members):
            for i in range(100):
                expect(m.call("session-create", **session_args(n * 1000 + i, ip_type="v4v6"))["result"] == 0, "c")
        d = w.add_member("smf4")
        for m in w.members:
            m.write_config(w.members, epoch=2)
        d.start(wait_active=False)
        members = [{"id": m.id, "address": m.address} for m in w.members]
        r = w.members[0].call("set-members", members=members)
        expect(r["result"] == 0, f"set-members: {r}", w)
        frac = r["arguments"]["moved-fraction"]
        print(f"     3 -> 4: {r['arguments']['moved-chunks']} of {r['arguments']['total-chunks']} chunks moved ({frac:.3f}; minimum 0.250)")
        expect(0.2 <= frac <= 0.3, f"moved fraction {frac} far from 1/4")
        settle(w)
        for m in w.members:
            expect(status(m)["epoch"] == 2, f"{m.id} not at epoch 2")
        for n, m in enumerate(w.members):
            for i in range(100):
                expect(m.call("session-create", **session_args(50000 + n * 1000 + i, ip_type="v4v6"))["result"] == 0,
                       "create after 3->4", w)
        no_duplicates(w)
        expect(used_total(w) == live_units(w), "usage after 3->4 disagrees with holdings", w)
        # move smf4's sessions away, then remove it
        for row in d.store_rows("SELECT supi, dnn, snssai, psi FROM sessions"):
            t = d.call("session-transfer", to="smf1", supi=row[0], dnn=row[1], snssai=row[2], pdu_session_id=row[3])
            expect(t["result"] == 0, f"transfer off smf4: {t}", w)
        r = w.members[1].call("set-members", members=members[:3])
        frac = r["arguments"]["moved-fraction"]
        print(f"     4 -> 3: {r['arguments']['moved-chunks']} of {r['arguments']['total-chunks']} chunks moved ({frac:.3f}; minimum 0.250)")
        expect(r["result"] == 0 and 0.2 <= frac <= 0.3, f"set-members 4->3: {r}", w)
        settle(w)
        d.stop()
        w.members.remove(d)
        held = no_duplicates(w)
        expect(used_total(w) == len(held), f"leak after 4->3: used {used_total(w)} vs held {len(held)}", w)
        for m in w.members:
            for row in m.store_rows("SELECT supi, dnn, snssai, psi FROM sessions"):
                m.call("session-release", supi=row[0], dnn=row[1], snssai=row[2], pdu_session_id=row[3])
        settle(w)
        expect(used_total(w) == 0, f"{used_total(w)} units still used after releasing everything", w)
    finally:
        w.close()


def test_transfer_while_owner_reconciles():
    """The owner of S's address reconciles (held open by an absent peer); a transfer of S
    between two peers must be refused or reported, never lost from the owner's view."""
    w = SetWorld(4, recovery_timeout_ms=4000).start()
    try:
        a, b, c, d = w.members
        s = a.call("session-create", **session_args(1))["arguments"]["ipv4"]
        a.call("session-transfer", to="smf2", **key(1))
        d.kill()
        a.kill()
        a.start(wait_active=False)
        wait_until(lambda: status(c)["members"][0]["reconciling"], "smf3 to see smf1 reconciling")
        t = b.call("session-transfer", to="smf3", **key(1))
        expect(t["result"] == 4, f"transfer during reconcile must be refused (busy): {t}", w)
        d.start(wait_active=False)
        settle(w)
        t = b.call("session-transfer", to="smf3", **key(1))
        expect(t["result"] == 0, f"transfer after reconcile: {t}", w)
        got = [a.call("session-create", **session_args(400 + i))["arguments"]["ipv4"] for i in range(64)]
        expect(s not in got, f"{s}, held by smf3, was handed out again", w)
        no_duplicates(w)
    finally:
        w.close()


def test_release_during_handoff_reaches_new_owner():
    w = SetWorld(3, pools=BIG_POOLS).start()
    try:
        a, b, _ = w.members
        for i in range(200):
            a.call("session-create", **session_args(i))
            a.call("session-transfer", to="smf2", **key(i))
        d = w.add_member("smf4")
        for m in w.members:
            m.write_config(w.members, epoch=2)
        d.start(wait_active=False)
        members = [{"id": m.id, "address": m.address} for m in w.members]
        cb = b.client()
        cb.send_raw(b"")
        threads = threading.Thread(target=lambda: a.call("set-members", members=members))
        threads.start()
        for i in range(200):
            cb.call("session-release", **key(i))
        threads.join()
        cb.close()
        settle(w)
        for m in w.members:
            expect(status(m)["lent"] == 0, f"{m.id} still counts lent units: {status(m)}", w)
        expect(used_total(w) == 0, f"{used_total(w)} units leaked after releases during hand-off", w)
    finally:
        w.close()


def test_restarts_twice_and_together():
    w = SetWorld(3).start()
    try:
        a, b, c = w.members
        for i in range(30):
            a.call("session-create", **session_args(i))
            if i % 2:
                a.call("session-transfer", to="smf2", **key(i))
        a.kill()
        a.start(wait_active=False)
        a.kill()
        a.start()
        a.kill()
        b.kill()
        a.start(wait_active=False)
        b.start(wait_active=False)
        a.wait_active()
        b.wait_active()
        settle(w)
        for m in (a, b):
            rec = status(m)["recovery"]
            expect(rec["last-complete"], f"{m.id} recovery incomplete: {rec}", w)
        for i in range(30):
            owner = owner_of_session(w, i)
            expect(owner is not None and owner.id == ("smf2" if i % 2 else "smf1"), f"session {i} at {owner}", w)
        held = no_duplicates(w)
        expect(used_total(w) == len(held), "usage disagrees with holdings", w)
    finally:
        w.close()


def test_adopt_then_failed_member_returns():
    """A peer adopts the sessions of a failed member; when that member comes back it drops
    its stale copies, and no address is held twice or leaked."""
    w = SetWorld(3).start()
    try:
        a, b, c = w.members
        records = []
        for i in range(10):
            b.call("session-create", **session_args(i, ip_type="v4v6"))
            records.append(b.call("session-get", **key(i))["arguments"])
        b.kill()
        for r in records:
            args = {k: v for k, v in r.items() if k not in ("controller", "previous-controller")}
            args["from"] = "smf2"
            got = a.call("session-adopt", **args)
            expect(got["result"] == 0 and got["arguments"]["generation"] == r["generation"] + 1, f"adopt: {got}", w)
        dup = a.call("session-adopt", **dict(args))
        expect(dup["result"] == 4, f"adopting twice must conflict: {dup}")
        b.start()
        settle(w)
        expect(b.call("session-list")["result"] == 3, "the returning member kept stale copies", w)
        held = no_duplicates(w)
        expect(len(held) == 20 and used_total(w) == 20, f"held {len(held)}, used {used_total(w)}", w)
        for i in range(10):
            expect(a.call("session-release", **key(i))["result"] == 0, "release adopted", w)
        settle(w)
        expect(used_total(w) == 0, f"{used_total(w)} units leaked after releasing adopted sessions", w)
    finally:
        w.close()


def test_transfer_unconfirmed_until_sender_lets_go():
    """The crash window of a transfer: the receiver stored the session, the sender crashed
    before deleting its copy. The receiver must not let the session be released until the
    sender has let go (else the owner could hand the address out while the sender still holds
    it); when the sender is back it lets go and the session becomes usable."""
    w = SetWorld(3).start()
    try:
        a, b, _ = w.members
        a.call("session-create", **session_args(1))
        b.stop()
        a.stop()
        row = a.store_rows("SELECT * FROM sessions")[0]
        con = sqlite3.connect(b.db)
        cols = [r[1] for r in con.execute("PRAGMA table_info(sessions)")]
        rec = dict(zip(cols, row))
        rec.update(gen=rec["gen"] + 1, prev="smf1", unconfirmed=1)
        con.execute(f"INSERT INTO sessions({','.join(cols)}) VALUES ({','.join('?' * len(cols))})",
                    [rec[c] for c in cols])
        con.commit()
        con.close()
        b.start()
        r = b.call("session-release", **key(1))
        expect(r["result"] == 4 and r["arguments"]["error"] == "UEIP_EBUSY",
               f"release of an unconfirmed transfer must wait: {r}", w)
        a.start()
        wait_until(lambda: a.call("session-get", **key(1))["result"] == 3, "the sender to let go")
        r = wait_until(lambda: (lambda x: x if x["result"] == 0 else None)(b.call("session-release", **key(1))),
                       "the receiver to accept the release", timeout=10)
        settle(w)
        expect(used_total(w) == 0 and status(a)["lent"] == 0, f"leak: used {used_total(w)}, {status(a)}", w)
    finally:
        w.close()


def test_bad_set_commands_change_nothing():
    w = SetWorld(2).start()
    try:
        a, b = w.members
        a.call("session-create", **session_args(1))
        me = {"id": "smf1", "address": a.address}
        bad = [
            {"members": []},
            {"members": "smf1"},
            {"members": [me, {"id": "smf1", "address": b.address}]},
            {"members": [me, {"id": "bad id\u0001", "address": b.address}]},
            {"members": [me, {"id": "smf2", "address": "nowhere"}]},
            {"members": [me, {"id": "smf2", "address": b.address}], "epoch": 1},
        ]
        for args in bad:
            r = a.call("set-members", **args)
            expect(r["result"] == 1, f"set-members {args} -> {r}", w)
        expect(status(a)["epoch"] == 1 and status(b)["epoch"] == 1, "a refused set-members changed the epoch")
        for args, err in [(dict(key(1), to="smf9"), "UEIP_EINVAL"), (dict(key(1), to="smf1"), "UEIP_EINVAL"),
                          (dict(key(2), to="smf2"), "UEIP_ENOTFOUND")]:
            r = a.call("session-transfer", **args)
            expect(r["result"] != 0 and r["arguments"]["error"] == err, f"transfer {args} -> {r}", w)
        rec = a.call("session-get", **key(1))["arguments"]
        args = {k: v for k, v in rec.items() if k not in ("controller", "previous-controller")}
        r = b.call("session-adopt", **dict(args, **{"from": "smf1"}))
        expect(r["result"] == 4, f"adopting from a live member must be refused: {r}", w)
        expect(b.call("session-list")["result"] == 3, "a refused adopt changed the store", w)
        expect(a.call("session-get", **key(1))["result"] == 0, "the session moved", w)
    finally:
        w.close()


def hello_frame(member, set_id, key):
    import hashlib
    import hmac
    import struct

    def st(t):
        return bytes([len(t)]) + t.encode()
    body = st(member) + st(set_id) + struct.pack(">QQ", 1, 1) + os.urandom(16)
    hdr = b"US\x01\x01" + struct.pack(">IQI", len(body), 0, 0)
    return hdr + body + hmac.new(key, hdr + body, hashlib.sha256).digest()


def test_non_member_refused():
    """Set-peer frames from anything that is not a configured member are refused."""
    import socket
    from ueiptest import KEY
    w = SetWorld(2).start()
    try:
        a = w.members[0]
        cases = [("intruder", "test-set", bytes.fromhex(KEY)), ("smf2", "test-set", b"wrong key" * 3),
                 ("smf2", "other-set", bytes.fromhex(KEY))]
        for member, set_id, k in cases:
            s = socket.create_connection(("127.0.0.1", a.port), timeout=5)
            s.sendall(hello_frame(member, set_id, k))
            data = s.recv(4096)
            s.close()
            expect(data == b"", f"{member}/{set_id}: got an answer {data[:20]!r} instead of a closed connection", w)
        s = socket.create_connection(("127.0.0.1", a.port), timeout=5)
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        expect(s.recv(4096) == b"", "garbage must close the connection")
        s.close()
        wait_until(lambda: open(a.log).read().count("refused HELLO") >= 2, "refusals logged")
        expect(status(a)["members"][1]["reachable"], "the real member must still be connected", w)
        expect(a.call("session-create", **session_args(1))["result"] == 0, "member still serves", w)
    finally:
        w.close()


if __name__ == "__main__":
    run([test_non_member_refused, test_adopt_then_failed_member_returns,
         test_transfer_unconfirmed_until_sender_lets_go, test_bad_set_commands_change_nothing, test_concurrent_creates_unique, test_transfer_then_release_on_non_owner, test_release_while_owner_down,
         test_recovery_frees_missed_release_and_repairs_drift, test_transfer_while_owner_reconciles,
         test_release_during_handoff_reaches_new_owner, test_restarts_twice_and_together,
         test_membership_3_4_3, test_sigkill_under_load])
