#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Writes the seed corpus of the PCP / NAT-PMP fuzz target (tests/fuzz/corpus/pcp).

Messages are laid out from the figures of RFC 6887 (PCP) and RFC 6886
(NAT-PMP): valid requests and responses of every opcode and option, and the
invalid ones each decoder rule refuses, so that the fuzzer starts from inputs
that reach every branch. Files whose name starts with "found-" are inputs the
fuzzer found; this script leaves them alone. Run it again after a change of
the wire format: `python3 tests/fuzz/make_pcp_corpus.py`.
"""
import ipaddress
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus", "pcp")

ANNOUNCE, MAP, PEER = 0, 1, 2
THIRD_PARTY, PREFER_FAILURE, FILTER = 1, 2, 3
TCP, UDP = 6, 17
NONCE = bytes(range(0xA0, 0xAC))


def addr(text):
    """16-octet PCP address: IPv6 as is, IPv4 as ::ffff:a.b.c.d (RFC 6887 §5)."""
    ip = ipaddress.ip_address(text)
    if ip.version == 4:
        return b"\0" * 10 + b"\xff\xff" + ip.packed
    return ip.packed


def req_hdr(op, lifetime=3600, client="100.64.0.2", version=2):
    return struct.pack(">BBHI", version, op, 0, lifetime) + addr(client)


def resp_hdr(op, result=0, lifetime=3600, epoch=1000):
    return struct.pack(">BBBBII", 2, 0x80 | op, 0, result, lifetime, epoch) + b"\0" * 12


def map_data(proto=TCP, iport=8080, eport=0, ext="0.0.0.0"):
    return NONCE + struct.pack(">B3xHH", proto, iport, eport) + addr(ext)


def peer_data(proto=TCP, iport=40000, eport=0, ext="0.0.0.0", rport=443, remote="203.0.113.9"):
    return map_data(proto, iport, eport, ext) + struct.pack(">H2x", rport) + addr(remote)


def opt(code, data=b"", length=None):
    n = len(data) if length is None else length
    return struct.pack(">BBH", code, 0, n) + data + b"\0" * (-len(data) % 4)


def third_party(ip="100.64.0.9"):
    return opt(THIRD_PARTY, addr(ip))


def filt(prefix=128, port=0, remote="203.0.113.9"):
    return opt(FILTER, struct.pack(">xBH", prefix, port) + addr(remote))


def pcp_requests():
    yield "announce", req_hdr(ANNOUNCE, lifetime=0)
    yield "map-tcp", req_hdr(MAP) + map_data()
    yield "map-udp-v6", req_hdr(MAP, client="2001:db8::2") + map_data(UDP, 5060, 5060, "2001:db8:1::7")
    yield "map-dedicated", req_hdr(MAP) + map_data(0, 0)
    yield "map-proto0-port", req_hdr(MAP) + map_data(0, 1234)
    yield "map-delete", req_hdr(MAP, lifetime=0) + map_data(TCP, 0)
    yield "map-third-party", req_hdr(MAP) + map_data() + third_party()
    yield "map-prefer-failure", req_hdr(MAP) + map_data() + opt(PREFER_FAILURE)
    yield "map-filter-v4", req_hdr(MAP) + map_data() + filt(120, 443)
    yield "map-filter-v6", req_hdr(MAP) + map_data() + filt(48, 0, "2001:db8:5::")
    yield "map-all-options", (req_hdr(MAP) + map_data() + third_party() + opt(PREFER_FAILURE) +
                              filt(112, 80) + opt(200, b"xyzzy"))
    yield "map-unknown-optional", req_hdr(MAP) + map_data() + opt(200, b"abcde")
    yield "map-unknown-mandatory", req_hdr(MAP) + map_data() + opt(99, b"\1\2\3\4")
    yield "peer-tcp", req_hdr(PEER) + peer_data()
    yield "peer-third-party", req_hdr(PEER) + peer_data(UDP) + third_party()
    yield "peer-v6", req_hdr(PEER, client="2001:db8::2") + peer_data(UDP, 5000, 0, "::", 6000, "2001:db8::99")
    # refused by the decoder, one file per rule
    yield "bad-1-octet", b"\x02"
    yield "bad-r-bit", bytes([2, 0x81]) + req_hdr(MAP)[2:] + map_data()
    yield "bad-version-1", req_hdr(MAP, version=1) + map_data()
    yield "bad-version-3-short", bytes([3, 1, 0, 0, 0, 0])
    yield "bad-len-20", req_hdr(ANNOUNCE)[:20]
    yield "bad-len-odd", req_hdr(ANNOUNCE) + b"\0\0"
    yield "bad-len-1104", req_hdr(MAP) + map_data() + opt(200, b"\0" * 1040)
    yield "bad-opcode-5", req_hdr(5) + b"\0" * 8
    yield "bad-map-cut", req_hdr(MAP) + map_data()[:20]
    yield "bad-peer-proto0", req_hdr(PEER) + peer_data(0)
    yield "bad-peer-remote-zero", req_hdr(PEER) + peer_data(remote="0.0.0.0")
    yield "bad-option-overrun", req_hdr(MAP) + map_data() + struct.pack(">BBH", 200, 0, 40)
    yield "bad-third-party-twice", req_hdr(MAP) + map_data() + third_party() + third_party("100.64.0.10")
    yield "bad-third-party-len", req_hdr(MAP) + map_data() + opt(THIRD_PARTY, addr("1.2.3.4")[:12])
    yield "bad-prefer-failure-len", req_hdr(MAP) + map_data() + opt(PREFER_FAILURE, b"\0\0\0\0")
    yield "bad-prefer-failure-twice", req_hdr(MAP) + map_data() + opt(PREFER_FAILURE) + opt(PREFER_FAILURE)
    yield "bad-prefer-failure-peer", req_hdr(PEER) + peer_data() + opt(PREFER_FAILURE)
    yield "bad-filter-peer", req_hdr(PEER) + peer_data() + filt()
    yield "bad-third-party-announce", req_hdr(ANNOUNCE) + third_party()
    yield "bad-filter-prefix-v4", req_hdr(MAP) + map_data() + filt(64)
    yield "bad-filter-prefix-129", req_hdr(MAP) + map_data() + filt(129, 0, "2001:db8::1")
    yield "bad-filters-17", req_hdr(MAP) + map_data() + filt() * 17


def pcp_responses():
    yield "resp-announce", resp_hdr(ANNOUNCE, lifetime=0)
    yield "resp-map", resp_hdr(MAP) + map_data(TCP, 8080, 8080, "198.51.100.7")
    yield "resp-map-options", (resp_hdr(MAP) + map_data(TCP, 8080, 8080, "198.51.100.7") + third_party() +
                               opt(PREFER_FAILURE) + filt(120) + opt(99, b"\0\0\0\0"))
    yield "resp-peer", resp_hdr(PEER) + peer_data(TCP, 40000, 61000, "198.51.100.7")
    yield "resp-error-copy", (bytes([2, 0x81, 0, 6]) + struct.pack(">II", 1800, 1000) +
                              addr("100.64.0.2")[4:] + map_data() + opt(PREFER_FAILURE, b"\0\0\0\0"))


def natpmp():
    yield "natpmp-addr", bytes([0, 0])
    yield "natpmp-map-udp", struct.pack(">BBHHHI", 0, 1, 0, 5000, 5000, 7200)
    yield "natpmp-delete-all", struct.pack(">BBHHHI", 0, 2, 0, 0, 0, 0)
    yield "natpmp-bad-opcode", bytes([0, 5, 0, 0, 1, 2, 3, 4])
    yield "natpmp-bad-short-map", bytes([0, 1, 0, 0, 0x13, 0x88, 0, 0])
    yield "natpmp-resp-addr", struct.pack(">BBHI", 0, 128, 0, 1000) + ipaddress.ip_address("198.51.100.7").packed
    yield "natpmp-resp-map", struct.pack(">BBHIHHI", 0, 130, 0, 1000, 8080, 8080, 3600)
    yield "natpmp-resp-error", struct.pack(">BBHIHHI", 0, 129, 4, 1000, 5000, 0, 0)
    yield "natpmp-resp-version", struct.pack(">BBHI", 0, 0, 1, 1000)
    yield "natpmp-resp-opcode", bytes([0, 133, 0, 5, 1, 2, 3, 4])


def main():
    os.makedirs(OUT, exist_ok=True)
    for name in os.listdir(OUT):
        if not name.startswith("found-"):
            os.unlink(os.path.join(OUT, name))
    count = 0
    for gen in (pcp_requests, pcp_responses, natpmp):
        for name, data in gen():
            with open(os.path.join(OUT, name), "wb") as f:
                f.write(data)
            count += 1
    print(f"wrote {count} files to {OUT}")


if __name__ == "__main__":
    main()
