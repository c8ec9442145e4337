# SPDX-License-Identifier: Apache-2.0
"""Harness for integration tests: real ueipd processes on loopback.

A SetWorld writes one config per member into a private temp directory,
starts and stops (or SIGKILLs) ueipd processes, and talks to each over its
control socket. Nothing here sleeps blindly: wait_until() polls a condition
with a bound and fails the test with the condition's description.
"""
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time

BUILD = os.environ.get("UEIP_BUILD", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
UEIPD = os.path.join(BUILD, "src", "daemon", "ueipd")
KEY = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"


class TestFailure(AssertionError):
    pass


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(cond, what, timeout=15.0, interval=0.02):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = cond()
            if last:
                return last
        except (OSError, ConnectionError, TimeoutError) as e:
            last = e
        time.sleep(interval)
    raise TestFailure(f"timed out after {timeout}s waiting for: {what} (last: {last!r})")


class Client:
    """One control-socket connection; requests and answers one line each."""

    def __init__(self, path, timeout=20.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""

    def close(self):
        self.sock.close()

    def send_raw(self, data):
        self.sock.sendall(data)

    def read_answer(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("control socket closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def call(self, command, **arguments):
        req = {"command": command, "arguments": {k.replace("_", "-"): v for k, v in arguments.items()}}
        self.send_raw(json.dumps(req).encode() + b"\n")
        return self.read_answer()


class Member:
    def __init__(self, world, mid, port):
        self.world = world
        self.id = mid
        self.port = port
        self.address = f"127.0.0.1:{port}"
        self.dir = os.path.join(world.dir, mid)
        os.makedirs(self.dir, exist_ok=True)
        self.config = os.path.join(self.dir, "ueipd.yaml")
        self.db = os.path.join(self.dir, "store.db")
        self.sock = os.path.join(self.dir, "ctl.sock")
        self.log = os.path.join(self.dir, "ueipd.log")
        self.metrics_port = free_port()
        self.pcp_port = free_udp_port()
        self.proc = None

    def write_config(self, members, epoch=1):
        w = self.world
        lines = [
            "set:", "  id: test-set", f"  member: {self.id}", f"  epoch: {epoch}", f"  key: {KEY}",
            f"  recovery_timeout_ms: {w.recovery_timeout_ms}", "  members:",
        ]
        lines += [f"    - {{ id: {m.id}, address: {m.address} }}" for m in members]
        lines += [f"chunk_size: {w.chunk_size}", f"quarantine_seconds: {w.quarantine}", "pools:"]
        lines += [f"  - {p}" for p in w.pools]
        if w.statics:
            lines += ["static:"] + [f"  - {s}" for s in w.statics]
        lines += [
            "store:", f"  path: {self.db}", "control:", f"  socket: {self.sock}",
            "metrics:", f"  address: 127.0.0.1:{self.metrics_port}", "log:", f"  level: {w.log_level}",
        ]
        lines += [line.replace("{pcp_port}", str(self.pcp_port)) for line in w.extra]
        with open(self.config, "w") as f:
            f.write("\n".join(lines) + "\n")

    def start(self, wait_active=True):
        assert self.proc is None or self.proc.poll() is not None
        logf = open(self.log, "ab")
        self.proc = subprocess.Popen([UEIPD, "-c", self.config], stdout=logf, stderr=logf)
        logf.close()
        wait_until(lambda: self._started(), f"{self.id} control socket")
        if wait_active:
            self.wait_active()
        return self

    def _started(self):
        if self.proc.poll() is not None:
            with open(self.log, errors="replace") as f:
                raise TestFailure(f"{self.id} exited with {self.proc.returncode}:\n{f.read()[-3000:]}")
        return os.path.exists(self.sock) and self._connectable()

    def _connectable(self):
        try:
            Client(self.sock, timeout=1).close()
            return True
        except OSError:
            return False

    def wait_active(self, timeout=15.0):
        wait_until(lambda: self.call("set-status")["arguments"]["state"] == "active",
                   f"{self.id} active", timeout=timeout)

    def call(self, command, **arguments):
        c = Client(self.sock)
        try:
            return c.call(command, **arguments)
        finally:
            c.close()

    def client(self):
        return Client(self.sock)

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def store_rows(self, sql):
        con = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=10)
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()

    def store_sessions(self):
        return self.store_rows("SELECT supi, dnn, snssai, psi, v4_addr, v6_prefix FROM sessions")


class SetWorld:
    def __init__(self, n, pools=None, statics=None, chunk_size=64, quarantine=0,
                 recovery_timeout_ms=2000, log_level="info", extra=None):
        self.dir = tempfile.mkdtemp(prefix="ueip-it-")
        self.pools = pools or ["{ name: inet4, dnn: internet, ipv4: 100.64.0.0/20 }",
                               "{ name: inet6, dnn: internet, ipv6: \"2001:db8::/48\", delegated_length: 64 }"]
        self.statics = statics or []
        self.chunk_size = chunk_size
        self.quarantine = quarantine
        self.recovery_timeout_ms = recovery_timeout_ms
        self.log_level = log_level
        self.extra = extra or []  # more config lines; "{pcp_port}" becomes the member's PCP port
        self.members = [Member(self, f"smf{i + 1}", free_port()) for i in range(n)]
        for m in self.members:
            m.write_config(self.members)

    def add_member(self, mid):
        m = Member(self, mid, free_port())
        self.members.append(m)
        return m

    def start(self):
        for m in self.members:
            m.start(wait_active=False)
        for m in self.members:
            m.wait_active()
        return self

    def member(self, mid):
        return next(m for m in self.members if m.id == mid)

    def close(self, keep=False):
        for m in self.members:
            m.stop()
        reports = self.sanitizer_reports()
        if keep or os.environ.get("UEIP_KEEP"):
            print(f"(world kept in {self.dir})")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)
        if reports:
            raise TestFailure("sanitizer reports in ueipd logs:\n" + "\n".join(reports))

    def sanitizer_reports(self):
        """Lines where AddressSanitizer, LeakSanitizer or UBSan spoke (sanitizer builds)."""
        found = []
        for m in self.members:
            if not os.path.exists(m.log):
                continue
            with open(m.log, errors="replace") as f:
                for line in f:
                    if "Sanitizer" in line or "runtime error:" in line:
                        found.append(f"{m.id}: {line.rstrip()}")
        return found[:20]

    def logs(self):
        out = []
        for m in self.members:
            if os.path.exists(m.log):
                with open(m.log, errors="replace") as f:
                    out.append(f"--- {m.id} ---\n" + f.read()[-4000:])
        return "\n".join(out)

    def all_held(self, members=None):
        """(supi,dnn,snssai,psi) -> addresses, over every member's store; also returns duplicates."""
        held = {}
        dups = []
        for m in members or self.members:
            for supi, dnn, snssai, psi, v4, v6 in m.store_sessions():
                for a in (v4, v6):
                    if a is None:
                        continue
                    if a in held and held[a] != (supi, dnn, snssai, psi):
                        dups.append((a, held[a], (supi, dnn, snssai, psi), m.id))
                    held[a] = (supi, dnn, snssai, psi)
        return held, dups


def session_args(i, psi=1, dnn="internet", snssai="1", ip_type="v4"):
    return dict(supi=f"imsi-0010100{i:08d}", dnn=dnn, snssai=snssai, pdu_session_id=psi, ip_type=ip_type)


def expect(cond, message, world=None):
    if not cond:
        if world is not None:
            message += "\n" + world.logs()
        raise TestFailure(message)


def run(tests):
    """Run test functions; print 'name: ok/FAIL' and exit non-zero on any failure."""
    import sys
    import traceback
    failed = 0
    only = sys.argv[1:]
    unknown = set(only) - {t.__name__ for t in tests}
    if unknown:
        print(f"no such test: {', '.join(sorted(unknown))}")
        sys.exit(2)
    for t in tests:
        if only and t.__name__ not in only:
            continue
        t0 = time.monotonic()
        try:
            t()
            print(f"ok   {t.__name__} ({time.monotonic() - t0:.1f}s)", flush=True)
        except Exception:
            failed += 1
            print(f"FAIL {t.__name__}", flush=True)
            traceback.print_exc()
    sys.exit(1 if failed else 0)
