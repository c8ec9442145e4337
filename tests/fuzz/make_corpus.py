#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Writes the seed corpora of the set-frame and control-JSON fuzz targets.

Set frames are built per docs/set-protocol.md and MACed with the fuzz key,
so that the fuzzer starts from inputs that reach every body decoder. Run it
again after a change of the wire format: `python3 tests/fuzz/make_corpus.py`.
"""
import hashlib
import hmac
import json
import os
import struct

KEY = b"ueip-fuzz-key-0123456789abcdef"
HERE = os.path.dirname(os.path.abspath(__file__))
TYPES = dict(HELLO=1, ACK=2, RELEASE=3, RECOVERY=4, REPORT=5, RECONCILED=6, TRANSFER=7,
             MEMBERS=8, HANDOFF=9, HANDOFF_DONE=10, STATS_REQ=11, STATS=12, TRANSFER_COMMIT=13, TRANSFER_CHECK=14)


def s(text):
    b = text.encode()
    return bytes([len(b)]) + b


def frame(kind, body, seq=1, key=KEY):
    hdr = b"US" + bytes([1, TYPES[kind]]) + struct.pack(">IQI", len(body), seq, 0)
    return hdr + body + hmac.new(key, hdr + body, hashlib.sha256).digest()


def session(supi="imsi-001010000000001", v4=("inet4", 10), v6=("inet6", 3), gen=2, prev="smf1"):
    has = (1 if v4 else 0) | (2 if v6 else 0)
    b = s(supi) + s("internet") + s("1") + bytes([5, 3 if has == 3 else has, 0, has])
    if v4:
        b += s(v4[0]) + struct.pack(">Q", v4[1])
    if v6:
        b += s(v6[0]) + struct.pack(">Q", v6[1])
    return b + struct.pack(">QQQ", 0x1234, gen, 1700000000000) + s(prev)


def unit(pool="inet4", idx=10, alloc=0x1234, until=0):
    return s(pool) + struct.pack(">QQQ", idx, alloc, until)


def setframes():
    hello = s("smf1") + s("test-set") + struct.pack(">QQ", 1, 7) + bytes(range(16))
    yield "hello", frame("HELLO", hello, seq=0)
    yield "ack", frame("ACK", struct.pack(">QI", 42, 0))
    yield "release", frame("RELEASE", struct.pack(">QI", 7, 1) + unit())
    yield "release-2", frame("RELEASE", struct.pack(">QI", 7, 2) + unit() + unit(idx=11))
    yield "recovery", frame("RECOVERY", struct.pack(">QQB", 99, 1, 0))
    yield "report", frame("REPORT", struct.pack(">QBI", 99, 1, 2) + session() + session(supi="nai-x@y", v6=None))
    yield "report-empty", frame("REPORT", struct.pack(">QBI", 99, 1, 0))
    yield "reconciled", frame("RECONCILED", struct.pack(">Q", 99))
    yield "transfer", frame("TRANSFER", struct.pack(">QI", 5, 1) + session())
    members = s("smf1") + s("127.0.0.1:7101") + s("smf2") + s("[::1]:7102")
    yield "members", frame("MEMBERS", struct.pack(">QQI", 3, 2, 2) + members)
    yield "handoff", frame("HANDOFF", struct.pack(">QQ", 4, 2) + s("inet4") + struct.pack(">II", 0, 2) +
                           unit(idx=1) + unit(idx=2, alloc=0, until=1700000060000))
    yield "handoff-done", frame("HANDOFF_DONE", struct.pack(">Q", 2))
    yield "stats-req", frame("STATS_REQ", struct.pack(">Q", 8))
    yield "stats", frame("STATS", struct.pack(">QI", 8, 2) + s("inet4") + struct.pack(">QQQQ", 5, 1, 1, 249) +
                         s("inet6") + struct.pack(">QQQQ", 2, 0, 0, 254))
    yield "two-frames", frame("ACK", struct.pack(">QI", 1, 0)) + frame("RECONCILED", struct.pack(">Q", 1), seq=2)
    # malformed: wrong count, trailing bytes, bad string, bad MAC, huge length, bad version
    yield "bad-count", frame("TRANSFER", struct.pack(">QI", 5, 3) + session())
    yield "trailing", frame("RECONCILED", struct.pack(">Q", 99) + b"x")
    yield "bad-string", frame("RELEASE", struct.pack(">QI", 7, 1) + b"\x05in\x00t4" + struct.pack(">QQQ", 1, 2, 0))
    yield "bad-mac", frame("ACK", struct.pack(">QI", 42, 0), key=b"wrong")
    yield "huge-len", b"US\x01\x02" + struct.pack(">IQI", 0xffffffff, 1, 0)
    yield "bad-version", b"US\x07\x02" + struct.pack(">IQI", 0, 1, 0) + bytes(32)
    yield "transfer-commit", frame("TRANSFER_COMMIT", struct.pack(">QI", 0, 1) + session())
    yield "transfer-check", frame("TRANSFER_CHECK", struct.pack(">QI", 0, 1) + session(gen=3))
    yield "remac-transfer", frame("TRANSFER", struct.pack(">QI", 5, 1) + session(), key=b"any")
    yield "bad-supi", frame("TRANSFER", struct.pack(">QI", 5, 1) + session(supi="bob"))


def ctl_requests():
    yield "create", {"command": "session-create", "arguments": {"supi": "imsi-001010000000001", "dnn": "internet",
                                                                 "snssai": "1", "pdu-session-id": 5, "ip-type": "v4v6"}}
    yield "static", {"command": "session-create", "arguments": {"supi": "imsi-001010000000001", "dnn": "internet",
                                                                 "snssai": "1-000001", "pdu-session-id": 1,
                                                                 "address": "100.64.0.10"}}
    yield "list", {"command": "session-list", "arguments": {"limit": 3, "from": {"supi": "imsi-00101000001"}}}
    yield "members", {"command": "set-members", "arguments": {"members": [{"id": "smf1", "address": "127.0.0.1:1"}]}}
    yield "no-args", {"command": "set-status"}
    for name, raw in [("not-json", b"{command"), ("array", b"[1,2,3]"), ("dup", b'{"command":"a","command":"b"}'),
                      ("deep", b"[" * 3000), ("nul", b'{"command":"a\\u0000b"}'), ("num-cmd", b'{"command":5}'),
                      ("big-int", b'{"command":"x","arguments":{"pdu-session-id":99999999999999999999}}')]:
        yield name, raw


def main():
    out = os.path.join(HERE, "corpus", "setframe")
    os.makedirs(out, exist_ok=True)
    for name, data in setframes():
        # first byte: 0 = MACs checked with the fuzz key, 1 = re-MACed first, 2 = a wrong key
        prefix = {"bad-mac": b"\x02", "remac-transfer": b"\x01"}.get(name, b"\x00")
        with open(os.path.join(out, name), "wb") as f:
            f.write(prefix + data)
    out = os.path.join(HERE, "corpus", "ctlmsg")
    os.makedirs(out, exist_ok=True)
    for name, req in ctl_requests():
        data = req if isinstance(req, bytes) else json.dumps(req).encode()
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
