# SPDX-License-Identifier: Apache-2.0
"""PCP (RFC 6887) and NAT-PMP (RFC 6886) messages built byte by byte, for tests.

A second, independent writer of the wire format: the tests check ueipd's
codec against bytes laid out here from the RFC figures, not against itself.
"""
import os
import socket
import struct

SUCCESS, UNSUPP_VERSION, NOT_AUTHORIZED, MALFORMED_REQUEST, UNSUPP_OPCODE = 0, 1, 2, 3, 4
UNSUPP_OPTION, MALFORMED_OPTION, NETWORK_FAILURE, NO_RESOURCES, UNSUPP_PROTOCOL = 5, 6, 7, 8, 9
USER_EX_QUOTA, CANNOT_PROVIDE_EXTERNAL, ADDRESS_MISMATCH = 10, 11, 12


def mapped(addr):
    return b"\0" * 10 + b"\xff\xff" + socket.inet_aton(addr)


def option(code, data=b""):
    pad = (-len(data)) % 4
    return struct.pack("!BBH", code, 0, len(data)) + data + b"\0" * pad


def map_request(client, lifetime=3600, proto=0, iport=0, eport=0, eaddr="0.0.0.0",
                nonce=None, opcode=1, options=b"", version=2):
    nonce = nonce or os.urandom(12)
    head = struct.pack("!BBHI", version, opcode, 0, lifetime) + mapped(client)
    ext = mapped(eaddr) if eaddr != "0.0.0.0" else b"\0" * 16
    body = nonce + struct.pack("!B3xHH", proto, iport, eport) + ext
    return head + body + options, nonce


def peer_request(client, remote, rport, proto=6, iport=5000, lifetime=3600, nonce=None):
    data, nonce = map_request(client, lifetime, proto, iport, nonce=nonce, opcode=2)
    return data + struct.pack("!H2x", rport) + mapped(remote), nonce


def announce_request(client):
    return struct.pack("!BBHI", 2, 0, 0, 0) + mapped(client)


def parse(data):
    """A PCP response as a dict (MAP/PEER fields when present)."""
    if data is None or len(data) < 24:
        return None
    v, op, _, result, life, epoch = struct.unpack("!BBBBII", data[:12])
    r = {"version": v, "opcode": op & 0x7F, "response": op >> 7, "result": result,
         "lifetime": life, "epoch": epoch, "len": len(data)}
    if len(data) >= 60 and r["opcode"] in (1, 2):
        r["nonce"] = data[24:36]
        r["protocol"] = data[36]
        r["internal_port"], r["external_port"] = struct.unpack("!HH", data[40:44])
        r["external"] = socket.inet_ntoa(data[56:60])
    return r


def natpmp_address_request():
    return b"\0\0"


def natpmp_map_request(proto_op, iport, eport, lifetime):
    return struct.pack("!BBHHHI", 0, proto_op, 0, iport, eport, lifetime)


def natpmp_parse(data):
    if data is None or len(data) < 8:
        return None
    v, op, result, epoch = struct.unpack("!BBHI", data[:8])
    r = {"version": v, "opcode": op, "result": result, "epoch": epoch, "len": len(data)}
    if op == 128 and len(data) >= 12:
        r["external"] = socket.inet_ntoa(data[8:12])
    if op in (129, 130) and len(data) >= 16:
        r["internal_port"], r["external_port"], r["lifetime"] = struct.unpack("!HHI", data[8:16])
    return r


class Client:
    """A UDP socket bound to a UE's address (loopback 127.x works without root)."""

    def __init__(self, source, server, timeout=2.0):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((source, 0))
        self.sock.settimeout(timeout)
        self.server = server

    def ask(self, data):
        self.sock.sendto(data, self.server)
        try:
            return self.sock.recv(2048)
        except socket.timeout:
            return None

    def listen(self, timeout):
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(2048)
        except socket.timeout:
            return None

    def close(self):
        self.sock.close()
