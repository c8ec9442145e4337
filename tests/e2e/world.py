#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The e2e test world (ARCHITECTURE.md §11): network namespaces, veth, nftables.

    inet   the internet: bridge br0 192.0.2.254/24; routes each MNO's public
           pool to that MNO's gateway
    gwa    MNO A gateway: inet0 192.0.2.1/24 (default via 192.0.2.254);
           UE side 100.64.0.1; public pool 198.51.100.0/24; ueipd runs here
    gwb    MNO B gateway: inet0 192.0.2.2/24; UE side 100.64.0.1 as well
           (operators reuse private space); public pool 203.0.113.0/24
    dave   a UE of MNO A, 100.64.0.2 on 3gpp0
    bill   a UE of MNO B, 100.64.0.2 on 3gpp0 (same address, other MNO)

Every name starts with a prefix unique to the run ("ue<owner pid>-", then
"ue<pid>_<n>-" for further worlds of one process), so parallel runs never
collide; namespaces whose owner process is gone are removed when the next
world is made.

UE links are point to point, as a PDU session is: the gateway holds
100.64.0.1/32 on each UE link ("ue-<name>") and a /32 route to each UE
address; the UE holds its /32 and a default route via 100.64.0.1. So UEs of
one MNO reach each other only through their gateway. 100.64.0.0/10 and the
public pool are `unreachable` in the gateway unless something more specific
(a UE route, or ueipd's DNAT, which happens before routing) applies.

Each gateway has an nft table "world" (ueipd owns "ueip"):
  - postrouting, priority srcnat: UE traffic leaving on inet0 is
    masqueraded to the gateway's 192.0.2.x (ueipd's chains sit at
    srcnat-10/dstnat-10 and win for mapped UEs: NAT is bound once per flow);
  - forward, priority filter: a packet from the internet whose conntrack
    original destination is in 100.64.0.0/10 is dropped (a stateful CGN:
    nothing reaches a UE's private address from outside; replies and
    ueipd-DNATed flows have a public original destination and pass).

Helpers: run/popen in a namespace (popen'd processes are killed at
teardown), sockets made inside a namespace (setns), ueipd with a YAML config
written from a dict, ueipctl returning parsed JSON, UE sessions with
deterministic addresses (static reservations), the `ueip` agent, PCP and
NAT-PMP message builders, bounded waits.

Usage in a test:

    with World() as w:                  # default world: dave (A), bill (B)
        d = w.start_ueipd("a")
        w.create_session("dave")
        agent = w.start_agent("dave")
        addr = agent.wait_address()

CLI (for scripts/demo_public.sh; the world outlives the command):

    world.py up DIR [--build B] [--owner PID]   build, print NAME=value lines
    world.py ueipd DIR [a|b] [--build B]        start that MNO's ueipd, print paths
    world.py session DIR UE [--build B]         create UE's session
    world.py down DIR                           kill every process, delete the namespaces
    world.py selftest                           build and tear down once
"""
import ctypes
import hashlib
import ipaddress
import json
import os
import re
import secrets
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
SKIP = 77  # meson: skipped
KEY = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
PREFIX_RE = re.compile(r"^ue(\d+)(?:_\d+)?-")


def build_dir():
    return os.environ.get("UEIP_BUILD", os.path.join(ROOT, "build"))


def binary(name):
    rel = {"ueipd": "src/daemon/ueipd", "ueipctl": "src/cli/ueipctl", "ueip": "src/agent/ueip"}[name]
    return os.path.join(build_dir(), rel)


class TestFailure(AssertionError):
    pass


def expect(cond, message, world=None):
    if not cond:
        if world is not None:
            message += "\n" + world.logs()
        raise TestFailure(message)


def wait_until(cond, what, timeout=15.0, interval=0.02):
    """Poll cond() until it returns something true; fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            last = cond()
            if last:
                return last
        except (OSError, ConnectionError, TimeoutError, subprocess.SubprocessError) as e:
            last = e
        if time.monotonic() >= deadline:
            break
        time.sleep(interval)
    raise TestFailure(f"timed out after {timeout}s waiting for: {what} (last: {last!r})")


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def addr_re(addr):
    """A regex that finds addr as a whole IPv4 address (198.51.100.1 is not in 198.51.100.17)."""
    return re.compile(r"(?<![\d.])" + re.escape(str(addr)) + r"(?!\d|\.\d)")


IPV4_RE = re.compile(r"(?<![\d.])(\d{1,3}(?:\.\d{1,3}){3})(?!\d|\.\d)")


def ipv4s_in(text, network=None):
    """Every IPv4 address in text (optionally only those inside network), in order."""
    out = []
    net = ipaddress.ip_network(network) if network else None
    for m in IPV4_RE.finditer(text):
        try:
            a = ipaddress.ip_address(m.group(1))
        except ValueError:
            continue
        if net is None or a in net:
            out.append(str(a))
    return out


# ---------------------------------------------------------------------------
# Namespaces and processes

_libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000


def _setns(fd):
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"setns: {os.strerror(e)}")


class in_netns:
    """Context manager: the calling thread enters a named netns and comes back.

    Sockets made inside stay in that namespace after the block, so a test
    can drive them from anywhere (network namespaces are per thread)."""

    def __init__(self, name):
        self.name = name
        self.home = None

    def __enter__(self):
        self.home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        fd = os.open(f"/run/netns/{self.name}", os.O_RDONLY)
        try:
            _setns(fd)
        except BaseException:
            os.close(self.home)
            raise
        finally:
            os.close(fd)
        return self

    def __exit__(self, *exc):
        try:
            _setns(self.home)
        finally:
            os.close(self.home)
        return False


def netns_list():
    r = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False)
    return [line.split()[0] for line in r.stdout.splitlines() if line.strip()]


def netns_pids(ns):
    r = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True, check=False)
    return [int(p) for p in r.stdout.split() if p.isdigit()]


def pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def kill_netns(names, grace=2.0):
    """Stop every process inside these namespaces (ours), then delete them."""
    me = os.getpid()
    for sig in (signal.SIGTERM, signal.SIGKILL):
        pids = {p for ns in names for p in netns_pids(ns)} - {me}
        for p in pids:
            try:
                os.kill(p, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace
        while pids and time.monotonic() < deadline:
            pids = {p for p in pids if pid_alive(p) and not _zombie(p)}
            time.sleep(0.02)
    errors = []
    for ns in names:
        r = subprocess.run(["ip", "netns", "delete", ns], capture_output=True, text=True, check=False)
        if r.returncode != 0 and ns in netns_list():
            errors.append(f"ip netns delete {ns}: {r.stderr.strip()}")
    return errors


def _zombie(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def cleanup_leftovers(own_prefix=None):
    """Delete namespaces of earlier worlds whose owner process is gone, and any
    that carry our own prefix (a dead process had our pid before); remove the
    work dirs of dead owners."""
    stale = []
    for ns in netns_list():
        m = PREFIX_RE.match(ns)
        if not m:
            continue
        if (own_prefix and ns.startswith(own_prefix)) or not pid_alive(int(m.group(1))):
            stale.append(ns)
    if stale:
        kill_netns(stale)
    tmp = tempfile.gettempdir()
    for d in os.listdir(tmp):
        m = re.match(r"^ueip-e2e-(ue(\d+)(?:_\d+)?-)", d)
        if m and (m.group(1) != own_prefix) and not pid_alive(int(m.group(2))):
            shutil.rmtree(os.path.join(tmp, d), ignore_errors=True)
    return stale


class Proc:
    """A process started in a namespace; stdout and stderr go to files."""

    def __init__(self, name, ns, argv, popen, out_path, err_path):
        self.name, self.ns, self.argv = name, ns, argv
        self.popen = popen
        self.pid = popen.pid
        self.out_path, self.err_path = out_path, err_path

    def stdout(self):
        with open(self.out_path, errors="replace") as f:
            return f.read()

    def stderr(self):
        with open(self.err_path, errors="replace") as f:
            return f.read()

    def mark(self):
        """Position in stdout; pass it as since= to look only at later output."""
        return os.path.getsize(self.out_path)

    def wait_for(self, pattern, timeout=10.0, since=0, what=None):
        """Bounded wait for a line of stdout (after since) matching pattern; returns the match."""
        rx = re.compile(pattern, re.M)

        def found():
            m = rx.search(self.stdout()[since:])
            if m:
                return m
            if not self.alive():
                raise TestFailure(f"{self.name} exited ({self.popen.returncode}) before printing "
                                  f"{pattern!r}\n{self.describe()}")
            return None
        try:
            return wait_until(found, what or f"{self.name} to print {pattern!r}", timeout=timeout)
        except TestFailure as e:
            raise TestFailure(f"{e}\n{self.describe()}") from None

    def alive(self):
        return self.popen.poll() is None

    def wait(self, timeout=10.0):
        return self.popen.wait(timeout)

    def send(self, sig):
        if self.alive():
            try:
                os.killpg(self.pid, sig)
            except ProcessLookupError:
                pass

    def stop(self, sig=signal.SIGTERM, timeout=3.0):
        if self.popen.poll() is not None:
            return self.popen.returncode
        self.send(sig)
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.send(signal.SIGKILL)
            return self.popen.wait(timeout)

    def describe(self, tail=3000):
        return (f"--- {self.name} in {self.ns}: {' '.join(map(str, self.argv))}\n"
                f"stdout:\n{self.stdout()[-tail:]}\nstderr:\n{self.stderr()[-tail:]}")


class TcpServer:
    """A TCP listener inside a namespace, served by a thread of this process.
    reply(peer_ip) gives the bytes sent to each client before closing."""

    def __init__(self, world, ns, host, port, reply=lambda peer: b""):
        self.sock = world.socket(ns, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.reply = reply
        self.peers = []
        self.stopped = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stopped:
            try:
                c, peer = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.peers.append(peer[0])
            try:
                c.sendall(self.reply(peer[0]))
            except OSError:
                pass
            finally:
                c.close()

    def close(self):
        self.stopped = True
        self.thread.join(2)
        self.sock.close()


# ---------------------------------------------------------------------------
# The world

MNOS = {
    # key: gateway ns, internet-side address, UE-side gateway, public pool, PLMN, set, member
    "a": dict(gw="gwa", inet="192.0.2.1", ue_gw="100.64.0.1", ue_net="100.64.0.0/10",
              public="198.51.100.0/24", public_range="198.51.100.10-198.51.100.250", plmn="00101", set="set-a", member="smf-a1", name="MNO A"),
    "b": dict(gw="gwb", inet="192.0.2.2", ue_gw="100.64.0.1", ue_net="100.64.0.0/10",
              public="203.0.113.0/24", public_range="203.0.113.10-203.0.113.250", plmn="00102", set="set-b", member="smf-b1", name="MNO B"),
}
INET_ADDR = "192.0.2.254"
INET_NET = "192.0.2.0/24"
DEFAULT_UES = [("dave", "a", "100.64.0.2"), ("bill", "b", "100.64.0.2")]
UE_POOL = "100.64.0.0/16"   # ueipd's UE pool per MNO; the world's UEs get static reservations in it
PCP_PORT = 5351

WORLD_NFT = """
table ip world {{
	chain postrouting {{
		type nat hook postrouting priority srcnat; policy accept;
		oifname "inet0" ip saddr {ue_net} counter masquerade
	}}
	chain forward {{
		type filter hook forward priority filter; policy accept;
		iifname "inet0" ct original ip daddr {ue_net} counter drop
	}}
}}
"""

_worlds_in_process = 0
_live_worlds = []


class UE:
    def __init__(self, name, mno, ns, address, supi, link, gw_if):
        self.name, self.mno, self.ns, self.address, self.supi = name, mno, ns, address, supi
        self.link, self.gw_if = link, gw_if
        self.extra = []     # further addresses on its link

    def as_dict(self):
        return dict(name=self.name, mno=self.mno, ns=self.ns, address=self.address, supi=self.supi,
                    link=self.link, gw_if=self.gw_if, extra=self.extra)


def supi_for(mno, address):
    """imsi-<PLMN><MSIN>, the MSIN from the address's offset in 100.64.0.0/10."""
    off = int(ipaddress.ip_address(address)) - int(ipaddress.ip_address("100.64.0.0"))
    return f"imsi-{MNOS[mno]['plmn']}{off:010d}"


class World:
    """One world; a context manager that builds it (default: dave and bill) and tears it down."""

    def __init__(self, ues=DEFAULT_UES, workdir=None, owner=None, keep=None):
        global _worlds_in_process
        owner = owner or os.getpid()
        n = _worlds_in_process
        _worlds_in_process += 1
        self.prefix = f"ue{owner}-" if n == 0 else f"ue{owner}_{n}-"
        self.owner = owner
        self.own_dir = workdir is None
        self.dir = workdir or tempfile.mkdtemp(prefix=f"ueip-e2e-{self.prefix}")
        os.makedirs(self.dir, exist_ok=True)
        self.keep = keep if keep is not None else bool(os.environ.get("UEIP_KEEP"))
        self.namespaces = []
        self.ues = {}
        self.daemons = {}
        self.procs = []
        self.servers = []
        self.initial_ues = ues
        self.torn_down = False

    # -- lifecycle

    def __enter__(self):
        try:
            self.build(self.initial_ues)
        except BaseException:
            self.teardown()
            raise
        return self

    def __exit__(self, exc_type, exc, tb):
        errors = self.teardown()
        if errors and exc_type is None:
            raise TestFailure("teardown: " + "; ".join(errors))
        return False

    def build(self, ues=DEFAULT_UES):
        cleanup_leftovers(self.prefix)
        _live_worlds.append(self)
        inet = self.add_ns("inet")
        self.ip(inet, "link add br0 type bridge")
        self.ip(inet, f"addr add {INET_ADDR}/24 dev br0")
        self.ip(inet, "link set br0 up")
        self.sysctl(inet, forwarding=True, redirects=False)
        for key in sorted({mno for _, mno, _ in ues} | {"a", "b"}):
            self.add_mno(key)
        for name, mno, address in ues:
            self.add_ue(name, mno, address)
        self.save()
        return self

    def ns(self, short):
        """Full namespace name of a short name ("gwa", "dave"); full names pass through."""
        return short if short.startswith(self.prefix) else self.prefix + short

    def add_ns(self, short):
        name = self.ns(short)
        subprocess.run(["ip", "netns", "add", name], check=True, capture_output=True, text=True)
        self.namespaces.append(name)
        self.ip(name, "link set lo up")
        return name

    def add_mno(self, key):
        m = MNOS[key]
        inet, gw = self.ns("inet"), self.add_ns(m["gw"])
        self.veth(inet, f"to-{m['gw']}", gw, "inet0")
        self.ip(inet, f"link set to-{m['gw']} master br0 up")
        self.ip(gw, f"addr add {m['inet']}/24 dev inet0")
        self.ip(gw, "link set inet0 up")
        self.ip(gw, f"route add default via {INET_ADDR}")
        self.ip(gw, f"route add unreachable {m['ue_net']}")
        self.ip(gw, f"route add unreachable {m['public']}")
        self.ip(inet, f"route add {m['public']} via {m['inet']}")
        self.sysctl(gw, forwarding=True)
        self.run(gw, ["nft", "-f", "-"], input=WORLD_NFT.format(ue_net=m["ue_net"]))
        return gw

    def add_ue(self, name, mno, address, link="3gpp0"):
        """A UE namespace with one point-to-point link to its MNO's gateway."""
        m = MNOS[mno]
        gw, ns = self.ns(m["gw"]), self.add_ns(name)
        gw_if = f"ue-{name}"[:15]
        self.veth(gw, gw_if, ns, link)
        self.ip(gw, f"addr add {m['ue_gw']}/32 dev {gw_if}")
        self.ip(gw, f"link set {gw_if} up")
        self.ip(gw, f"route add {address}/32 dev {gw_if} src {m['ue_gw']}")
        self.ip(ns, f"addr add {address}/32 dev {link}")
        self.ip(ns, f"link set {link} up")
        self.ip(ns, f"route add {m['ue_gw']}/32 dev {link}")
        self.ip(ns, f"route add default via {m['ue_gw']} dev {link} src {address}")
        ue = UE(name, mno, ns, address, supi_for(mno, address), link, gw_if)
        self.ues[name] = ue
        self.save()
        return ue

    def ue_add_address(self, name, address):
        """One more address on a UE's link, routed to it by its gateway (a spoofer, or a second PDU session)."""
        ue = self.ues[name]
        gw = self.ns(MNOS[ue.mno]["gw"])
        self.ip(ue.ns, f"addr add {address}/32 dev {ue.link}")
        self.ip(gw, f"route add {address}/32 dev {ue.gw_if} src {MNOS[ue.mno]['ue_gw']}")
        ue.extra.append(address)
        self.save()

    def add_link(self, ns_a, if_a, ns_b, if_b, cidr_a=None, cidr_b=None):
        """A further veth between two namespaces (a UE's wlan0, a ProSe link), addressed and up."""
        ns_a, ns_b = self.ns(ns_a), self.ns(ns_b)
        self.veth(ns_a, if_a, ns_b, if_b)
        for ns, ifn, cidr in ((ns_a, if_a, cidr_a), (ns_b, if_b, cidr_b)):
            if cidr:
                self.ip(ns, f"addr add {cidr} dev {ifn}")
            self.ip(ns, f"link set {ifn} up")

    def veth(self, ns_a, if_a, ns_b, if_b):
        self.ip(ns_a, f"link add {if_a} type veth peer name {if_b} netns {ns_b}")

    def ip(self, ns, args):
        return subprocess.run(["ip", "-n", ns] + args.split(), check=True, capture_output=True, text=True)

    def sysctl(self, ns, forwarding=None, redirects=None):
        sets = []
        if forwarding is not None:
            sets += [f"net.ipv4.ip_forward={int(forwarding)}", "net.ipv4.conf.all.rp_filter=0",
                     "net.ipv4.conf.default.rp_filter=0"]
        if redirects is not None:
            sets += [f"net.ipv4.conf.all.send_redirects={int(redirects)}",
                     f"net.ipv4.conf.default.send_redirects={int(redirects)}"]
        self.run(ns, ["sysctl", "-qw"] + sets)

    def teardown(self):
        """Kill every process, delete every namespace, remove the work dir. Returns errors (strings)."""
        if self.torn_down:
            return []
        self.torn_down = True
        errors = []
        for s in self.servers:
            try:
                s.close()
            except OSError as e:
                errors.append(f"server: {e}")
        for p in reversed(self.procs):
            try:
                p.stop(timeout=3.0)
            except (OSError, subprocess.SubprocessError) as e:
                errors.append(f"{p.name}: {e}")
        errors += kill_netns(list(reversed(self.namespaces)))
        left = [ns for ns in netns_list() if ns.startswith(self.prefix)]
        if left:
            errors.append(f"namespaces left: {left}")
        if self in _live_worlds:
            _live_worlds.remove(self)
        if self.own_dir:
            if self.keep:
                print(f"(world files kept in {self.dir})", flush=True)
            else:
                shutil.rmtree(self.dir, ignore_errors=True)
        return errors

    # -- persistence, for the CLI (demo): world.json in the work dir

    def save(self):
        state = dict(prefix=self.prefix, owner=self.owner, dir=self.dir, namespaces=self.namespaces,
                     ues=[u.as_dict() for u in self.ues.values()],
                     daemons={k: d.as_dict() for k, d in self.daemons.items()})
        tmp = os.path.join(self.dir, "world.json.tmp")
        with open(tmp, "w") as f:
            json.dump(state, f, indent=1)
        os.replace(tmp, os.path.join(self.dir, "world.json"))

    @classmethod
    def load(cls, workdir):
        with open(os.path.join(workdir, "world.json")) as f:
            st = json.load(f)
        w = cls.__new__(cls)
        w.prefix, w.owner, w.dir, w.own_dir = st["prefix"], st["owner"], st["dir"], False
        w.keep, w.namespaces, w.procs, w.servers, w.torn_down = True, st["namespaces"], [], [], False
        w.initial_ues = []
        w.ues = {}
        for u in st["ues"]:
            ue = UE(u["name"], u["mno"], u["ns"], u["address"], u["supi"], u["link"], u["gw_if"])
            ue.extra = u["extra"]
            w.ues[ue.name] = ue
        w.daemons = {k: Daemon.from_dict(w, d) for k, d in st["daemons"].items()}
        return w

    # -- running things in namespaces

    def run(self, ns, cmd, check=True, timeout=60, input=None, env=None):
        """Run cmd (list, or str for sh -c) in namespace ns (None: here); returns CompletedProcess (text)."""
        argv = ["sh", "-c", cmd] if isinstance(cmd, str) else [str(c) for c in cmd]
        if ns is not None:
            argv = ["ip", "netns", "exec", self.ns(ns)] + argv
        try:
            r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, input=input,
                               env=None if env is None else {**os.environ, **env})
        except subprocess.TimeoutExpired as e:
            raise TestFailure(f"{' '.join(argv)}: no exit within {timeout}s (killed)\n"
                              f"stdout: {(e.stdout or b'')[-2000:]!r}\nstderr: {(e.stderr or b'')[-2000:]!r}") from None
        if check and r.returncode != 0:
            raise TestFailure(f"{' '.join(argv)} -> {r.returncode}\nstdout: {r.stdout[-2000:]}\n"
                              f"stderr: {r.stderr[-2000:]}")
        return r

    def popen(self, ns, cmd, name=None, env=None, cwd=None):
        """Start cmd in ns in its own process group; tracked and killed at teardown."""
        argv = ["sh", "-c", cmd] if isinstance(cmd, str) else [str(c) for c in cmd]
        name = name or os.path.basename(argv[0])
        base = os.path.join(self.dir, f"{name}.{len(self.procs)}")
        full = (["ip", "netns", "exec", self.ns(ns)] if ns is not None else []) + argv
        with open(base + ".out", "wb") as out, open(base + ".err", "wb") as err:
            p = subprocess.Popen(full, stdout=out, stderr=err, stdin=subprocess.DEVNULL, cwd=cwd,
                                 env=None if env is None else {**os.environ, **env}, start_new_session=True)
        proc = Proc(name, ns, argv, p, base + ".out", base + ".err")
        self.procs.append(proc)
        return proc

    def socket(self, ns, type=socket.SOCK_DGRAM, family=socket.AF_INET):
        with in_netns(self.ns(ns)):
            return socket.socket(family, type)

    def tcp_connect(self, ns, host, port, timeout=3.0, recv=False):
        """Connect from ns; returns the bytes received until close when recv, else True. Raises OSError."""
        s = self.socket(ns, socket.SOCK_STREAM)
        try:
            s.settimeout(timeout)
            s.connect((host, port))
            if not recv:
                return True
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    return data
                data += chunk
        finally:
            s.close()

    def tcp_refused(self, ns, host, port, timeout=3.0):
        """None if a new TCP connection from ns to host:port fails; else a description of the success."""
        try:
            self.tcp_connect(ns, host, port, timeout=timeout)
        except OSError:
            return None
        return f"{ns} connected to {host}:{port}"

    def tcp_server(self, ns, host, port, reply=lambda peer: b""):
        s = TcpServer(self, self.ns(ns), host, port, reply)
        self.servers.append(s)
        return s

    def listening(self, ns, port, proto="tcp"):
        flag = "-Hltn" if proto == "tcp" else "-Hlun"
        r = self.run(ns, ["ss", flag, f"sport = :{port}"], check=False)
        return r.returncode == 0 and r.stdout.strip() != ""

    def nft_table(self, ns, table="ueip", family="ip"):
        """`nft list table` text in ns, or "" when the table does not exist."""
        r = self.run(ns, ["nft", "list", "table", family, table], check=False)
        return r.stdout if r.returncode == 0 else ""

    def logs(self):
        out = [d.log_tail() for d in self.daemons.values()]
        out += [p.describe(1500) for p in self.procs if not p.name.startswith("ueipd")]
        return "\n".join(out)

    # -- ueipd and the operator

    def start_ueipd(self, mno="a", config=None, wait=True):
        """Start MNO mno's ueipd in its gateway with the default config deep-merged with config."""
        d = Daemon(self, mno, merge(self.ueipd_config(mno), config or {}))
        self.daemons[mno] = d
        d.start(wait=wait)
        self.save()
        return d

    def ueipd_config(self, mno="a"):
        m = MNOS[mno]
        ddir = os.path.join(self.dir, f"ueipd-{mno}")
        statics = [{"supi": u.supi, "dnn": "internet", "address": u.address}
                   for u in self.ues.values() if u.mno == mno]
        cfg = {
            "set": {"id": m["set"], "member": m["member"], "epoch": 1, "key": KEY,
                    "members": [{"id": m["member"], "address": "127.0.0.1:7101"}],
                    "recovery_timeout_ms": 500},
            "chunk_size": 64,
            "quarantine_seconds": 0,
            "pools": [{"name": f"ue-{mno}", "dnn": "internet", "ipv4": UE_POOL}],
            "static": statics,
            "store": {"path": os.path.join(ddir, "store.db")},
            "control": {"socket": os.path.join(ddir, "ctl.sock")},
            "log": {"level": "debug"},
            "public": {
                "pcp": {"address": f"{m['ue_gw']}:{PCP_PORT}"},
                "pools": [{"name": f"pub-{mno}", "ipv4": m["public_range"]}],  # network/broadcast kept out
                "shared": {"pool": f"pub-{mno}"},
            },
            "dataplane": {"backend": "nft", "table": "ueip", "cleanup_on_stop": True},
        }
        if not statics:
            del cfg["static"]
        return cfg

    def daemon(self, mno="a"):
        return self.daemons[mno]

    def create_session(self, ue_name, pdu=1):
        """session-create for the UE on its MNO's ueipd; its address is the UE's (static)."""
        ue = self.ues[ue_name]
        a = self.daemons[ue.mno].ctl("session-create", supi=ue.supi, dnn="internet", snssai="1", pdu=pdu,
                                     type="v4", address=ue.address)
        expect(a.get("result") == 0 and a["arguments"].get("ipv4") == ue.address,
               f"session-create for {ue_name}: {a}", self)
        return a["arguments"]

    # -- the UE agent

    def start_agent(self, ue_name, *extra, server=None):
        """`ueip public request` in the UE's namespace, staying (renewals, notices)."""
        a = Agent(self, self.ues[ue_name], list(extra), server)
        return a

    # -- PCP from a namespace

    def pcp_exchange(self, ns, data, src=None, server=None, timeout=2.0, sport=0):
        """Send one datagram to the PCP server from ns (bound to src:sport); the answer or None."""
        server = server or (MNOS["a"]["ue_gw"], PCP_PORT)
        s = self.socket(ns, socket.SOCK_DGRAM)
        try:
            s.bind((src or "0.0.0.0", sport))
            s.settimeout(timeout)
            s.sendto(data, server)
            try:
                rsp, frm = s.recvfrom(2048)
            except socket.timeout:
                return None
            expect(frm == server, f"answer from {frm}, not from the server {server}")
            return rsp
        finally:
            s.close()

    # -- files served and fetched

    def serve_file(self, ue_name, port, size=20 << 20, name="video.bin"):
        """python3 http.server in the UE's namespace serving a random file; returns (path, sha256)."""
        www = os.path.join(self.dir, f"www-{ue_name}-{port}")
        os.makedirs(www, exist_ok=True)
        path = os.path.join(www, name)
        h = hashlib.sha256()
        with open(path, "wb") as f:
            left = size
            while left:
                block = os.urandom(min(left, 1 << 20))
                h.update(block)
                f.write(block)
                left -= len(block)
        self.popen(ue_name, [sys.executable, "-m", "http.server", str(port), "--bind", "0.0.0.0",
                             "--directory", www], name=f"http-{ue_name}-{port}")
        wait_until(lambda: self.listening(ue_name, port), f"http server on {ue_name}:{port}", timeout=10)
        return f"/{name}", h.hexdigest()

    def download(self, ns, url, timeout=60):
        """curl url from ns into a file; (sha256, CompletedProcess). sha256 is None when curl failed."""
        out = os.path.join(self.dir, f"download-{secrets.token_hex(4)}")
        r = self.run(ns, ["curl", "-sS", "--fail", "--max-time", str(timeout), "--connect-timeout", "5",
                          "-o", out, url], check=False, timeout=timeout + 10)
        sha = sha256_file(out) if r.returncode == 0 else None
        if os.path.exists(out):
            os.unlink(out)
        return sha, r


def merge(base, over):
    """Deep merge of config dicts; a None value deletes the key."""
    out = dict(base)
    for k, v in over.items():
        if v is None:
            out.pop(k, None)
        elif isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        else:
            out[k] = v
    return out


# -- YAML out (ueipd refuses anchors and aliases, so no generic dumper)

_PLAIN = re.compile(r"^[A-Za-z0-9_./-]+$")


def _scalar(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    s = str(v)
    if _PLAIN.match(s) and s.lower() not in ("true", "false", "null", "yes", "no", "on", "off", "~") \
            and not re.match(r"^[-+]?[0-9.]+$", s):
        return s
    return json.dumps(s)


def _flow(v):
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k}: {_flow(x)}" for k, x in v.items()) + " }"
    if isinstance(v, list):
        return "[ " + ", ".join(_flow(x) for x in v) + " ]"
    return _scalar(v)


def to_yaml(obj, indent=0):
    pad = "  " * indent
    lines = []
    for k, v in obj.items():
        if isinstance(v, dict):
            lines.append(f"{pad}{k}:")
            lines.append(to_yaml(v, indent + 1))
        elif isinstance(v, list):
            if not v:
                lines.append(f"{pad}{k}: []")
                continue
            lines.append(f"{pad}{k}:")
            lines += [f"{pad}  - {_flow(x)}" for x in v]
        else:
            lines.append(f"{pad}{k}: {_scalar(v)}")
    return "\n".join(lines)


class Daemon:
    """One ueipd inside an MNO's gateway namespace."""

    def __init__(self, world, mno, config):
        self.world, self.mno, self.config = world, mno, config
        self.ns = world.ns(MNOS[mno]["gw"])
        self.sock = config["control"]["socket"]
        self.dir = os.path.dirname(self.sock)
        os.makedirs(self.dir, exist_ok=True)
        self.config_path = os.path.join(self.dir, "ueipd.yaml")
        self.log = os.path.join(self.dir, "ueipd.log")
        self.proc = None
        self.pid = None
        self.write_config()

    def as_dict(self):
        return dict(mno=self.mno, config=self.config, pid=self.pid)

    @classmethod
    def from_dict(cls, world, d):
        self = cls.__new__(cls)
        self.world, self.mno, self.config = world, d["mno"], d["config"]
        self.ns = world.ns(MNOS[self.mno]["gw"])
        self.sock = self.config["control"]["socket"]
        self.dir = os.path.dirname(self.sock)
        self.config_path = os.path.join(self.dir, "ueipd.yaml")
        self.log = os.path.join(self.dir, "ueipd.log")
        self.proc, self.pid = None, d["pid"]
        return self

    def write_config(self, config=None):
        if config is not None:
            self.config = config
        with open(self.config_path, "w") as f:
            f.write(to_yaml(self.config) + "\n")

    def start(self, wait=True):
        assert not self.alive(), "ueipd already running"
        argv = [binary("ueipd"), "-c", self.config_path]
        with open(self.log, "ab") as logf:
            p = subprocess.Popen(["ip", "netns", "exec", self.ns] + argv, stdout=logf, stderr=logf,
                                 stdin=subprocess.DEVNULL, start_new_session=True)
        self.proc = Proc(f"ueipd-{self.mno}", self.ns, argv, p, self.log, self.log)
        self.pid = p.pid
        self.world.procs.append(self.proc)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=20.0):
        def ready():
            if self.proc is not None and not self.proc.alive():
                raise TestFailure(f"ueipd-{self.mno} exited with {self.proc.popen.returncode}:\n"
                                  f"{self.log_tail()}")
            if not os.path.exists(self.sock):
                return False
            a = self.ctl("set-status", check_io=False)
            return a is not None and a.get("arguments", {}).get("state") == "active"
        wait_until(ready, f"ueipd-{self.mno} active", timeout=timeout)
        pcp = self.config.get("public", {}).get("pcp", {}).get("address", "")
        if pcp:
            port = int(pcp.rsplit(":", 1)[1])
            wait_until(lambda: self.world.listening(self.ns, port, "udp"),
                       f"ueipd-{self.mno} PCP socket on {pcp}", timeout=timeout)

    def ctl(self, command, check_io=True, **kv):
        """`ueipctl -s SOCK --json COMMAND k=v ...`; the parsed answer {"result", "text", "arguments"}."""
        argv = [binary("ueipctl"), "-s", self.sock, "--json", command]
        argv += [f"{k.replace('_', '-')}={v}" for k, v in kv.items()]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        try:
            return json.loads(r.stdout)
        except json.JSONDecodeError:
            if not check_io:
                return None
            raise TestFailure(f"{' '.join(argv)} -> {r.returncode}, no JSON answer\nstdout: {r.stdout}\n"
                              f"stderr: {r.stderr}\n{self.log_tail()}") from None

    def public_list(self, **filters):
        a = self.ctl("public-list", **filters)
        expect(a.get("result") in (0, 3), f"public-list: {a}", self.world)
        return (a.get("arguments") or {}).get("mappings", [])

    def kill(self):
        if self.proc is not None:
            self.proc.stop(signal.SIGKILL)
        elif self.pid and pid_alive(self.pid):
            os.kill(self.pid, signal.SIGKILL)

    def stop(self):
        if self.proc is not None:
            return self.proc.stop(signal.SIGTERM, timeout=10)
        return None

    def alive(self):
        return self.proc is not None and self.proc.alive()

    def log_text(self):
        if not os.path.exists(self.log):
            return ""
        with open(self.log, errors="replace") as f:
            return f.read()

    def log_tail(self, n=4000):
        return f"--- ueipd-{self.mno} log ---\n" + self.log_text()[-n:]


class Agent:
    """`ueip public request --server GW --state FILE --on-change HOOK` in a UE's namespace.
    The hook appends "$UEIP_EVENT $UEIP_PUBLIC_ADDRESS" to events_path."""

    def __init__(self, world, ue, extra, server=None):
        self.world, self.ue = world, ue
        self.pool = MNOS[ue.mno]["public"]
        base = os.path.join(world.dir, f"agent-{ue.name}-{len(world.procs)}")
        self.state_path = base + ".state.json"
        self.events_path = base + ".events"
        self.hook = base + ".hook.sh"
        with open(self.hook, "w") as f:
            f.write(f'#!/bin/sh\necho "$UEIP_EVENT $UEIP_PUBLIC_ADDRESS" >> {self.events_path}\n')
        os.chmod(self.hook, stat.S_IRWXU)
        open(self.events_path, "w").close()
        self.server = server or MNOS[ue.mno]["ue_gw"]
        self.argv = [binary("ueip"), "public", "request", "--server", self.server,
                     "--state", self.state_path, "--on-change", self.hook] + extra
        self.proc = world.popen(ue.ns, self.argv, name=f"ueip-{ue.name}")

    def addresses(self, since=0):
        """Public-pool addresses the agent printed (after since), in order."""
        return ipv4s_in(self.proc.stdout()[since:], self.pool)

    def wait_address(self, timeout=10.0, since=0):
        """The first public address printed after since (bounded wait)."""
        def got():
            a = self.addresses(since)
            if a:
                return a[0]
            if not self.proc.alive():
                raise TestFailure(f"agent exited ({self.proc.popen.returncode}) without an address\n"
                                  f"{self.proc.describe()}")
            return None
        try:
            return wait_until(got, f"{self.ue.name}'s agent to print an address in {self.pool}", timeout=timeout)
        except TestFailure as e:
            raise TestFailure(f"{e}\n{self.proc.describe()}\n{self.world.logs()}") from None

    def current_address(self):
        a = self.addresses()
        return a[-1] if a else None

    def events(self):
        with open(self.events_path) as f:
            return [line.split() for line in f.read().splitlines() if line.strip()]

    def status(self):
        return self.world.run(self.ue.ns, [binary("ueip"), "public", "status", "--state", self.state_path,
                                           "--json"], check=False)


# ---------------------------------------------------------------------------
# PCP (RFC 6887) and NAT-PMP (RFC 6886) messages, built by hand

PCP_MAP, PCP_PEER, PCP_ANNOUNCE = 1, 2, 0
OPT_THIRD_PARTY, OPT_PREFER_FAILURE, OPT_FILTER = 1, 2, 3
RESULTS = {0: "SUCCESS", 1: "UNSUPP_VERSION", 2: "NOT_AUTHORIZED", 3: "MALFORMED_REQUEST",
           4: "UNSUPP_OPCODE", 5: "UNSUPP_OPTION", 6: "MALFORMED_OPTION", 7: "NETWORK_FAILURE",
           8: "NO_RESOURCES", 9: "UNSUPP_PROTOCOL", 10: "USER_EX_QUOTA", 11: "CANNOT_PROVIDE_EXTERNAL",
           12: "ADDRESS_MISMATCH", 13: "EXCESSIVE_REMOTE_PEERS"}


def v4mapped(addr):
    """16 octets: ::ffff:a.b.c.d (all zero for 0.0.0.0, as RFC 6887 §11.1 asks for "no suggestion")."""
    if str(addr) == "0.0.0.0":
        return bytes(10) + b"\xff\xff" + bytes(4)
    return bytes(10) + b"\xff\xff" + ipaddress.IPv4Address(addr).packed


def pcp_option(code, data=b""):
    pad = (-len(data)) % 4
    return struct.pack("!BBH", code, 0, len(data)) + data + bytes(pad)


def pcp_header(client, opcode=PCP_MAP, lifetime=3600, version=2, r_bit=0):
    return struct.pack("!BBH I", version, (r_bit << 7) | opcode, 0, lifetime) + v4mapped(client)


def pcp_map(client, nonce=None, protocol=0, internal_port=0, external_port=0, external="0.0.0.0",
            lifetime=3600, options=b"", version=2, opcode=PCP_MAP):
    """A MAP request (RFC 6887 §11.1): header, 36 octets of opcode data, options."""
    nonce = nonce or secrets.token_bytes(12)
    body = nonce + struct.pack("!B3xHH", protocol, internal_port, external_port) + v4mapped(external)
    return pcp_header(client, opcode, lifetime, version) + body + options


def pcp_announce(client, lifetime=0):
    return pcp_header(client, PCP_ANNOUNCE, lifetime)


def pcp_parse(data):
    """A PCP response as a dict (header; MAP opcode data when present)."""
    expect(len(data) >= 24, f"PCP response of {len(data)} octets")
    ver, rop, _, result, lifetime, epoch = struct.unpack("!BBBB I I", data[:12])
    r = dict(version=ver, response=rop >> 7, opcode=rop & 0x7f, result=result,
             result_name=RESULTS.get(result, str(result)), lifetime=lifetime, epoch=epoch, length=len(data))
    if r["opcode"] == PCP_MAP and len(data) >= 60:
        nonce = data[24:36]
        proto, iport, eport = struct.unpack("!B3xHH", data[36:44])
        ext = data[44:60]
        r.update(nonce=nonce, protocol=proto, internal_port=iport, external_port=eport,
                 external=str(ipaddress.IPv4Address(ext[12:])) if ext[:12] == bytes(10) + b"\xff\xff"
                 else str(ipaddress.IPv6Address(ext)))
    return r


def natpmp_parse(data):
    """A NAT-PMP response (RFC 6886 §3.2, §3.3): version, opcode, result, epoch, and per opcode."""
    expect(len(data) >= 8, f"NAT-PMP response of {len(data)} octets")
    ver, op, result, epoch = struct.unpack("!BBHI", data[:8])
    r = dict(version=ver, opcode=op, result=result, epoch=epoch)
    if op == 128 and len(data) >= 12:
        r["external"] = str(ipaddress.IPv4Address(data[8:12]))
    elif op in (129, 130) and len(data) >= 16:
        r["internal_port"], r["external_port"], r["lifetime"] = struct.unpack("!HHI", data[8:16])
    return r


# ---------------------------------------------------------------------------
# Running tests

def run_tests(tests):
    """Run test functions named on the command line (all when none); exit 77 when not root."""
    import traceback
    only = sys.argv[1:]
    unknown = set(only) - {t.__name__ for t in tests}
    if unknown:
        print(f"no such test: {', '.join(sorted(unknown))}")
        sys.exit(2)
    if os.geteuid() != 0:
        print("SKIP: e2e tests build network namespaces and need root")
        sys.exit(SKIP)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))   # meson's timeout: tear down first
    failed = 0
    for t in tests:
        if only and t.__name__ not in only:
            continue
        t0 = time.monotonic()
        try:
            t()
            print(f"ok   {t.__name__} ({time.monotonic() - t0:.1f}s)", flush=True)
        except Exception:
            failed += 1
            print(f"FAIL {t.__name__} ({time.monotonic() - t0:.1f}s)", flush=True)
            traceback.print_exc()
        finally:
            for w in list(_live_worlds):
                w.teardown()
    sys.exit(1 if failed else 0)


# ---------------------------------------------------------------------------
# CLI

def _shell(**kv):
    for k, v in kv.items():
        print(f"{k}={json.dumps(str(v))}")


def main(argv):
    import argparse
    p = argparse.ArgumentParser(prog="world.py", description="the e2e namespace world")
    p.add_argument("cmd", choices=["up", "ueipd", "session", "down", "selftest"])
    p.add_argument("dir", nargs="?")
    p.add_argument("arg", nargs="?")
    p.add_argument("--build", help="meson build dir (default $UEIP_BUILD or ./build)")
    p.add_argument("--owner", type=int, help="pid whose life the world's names follow (default: parent)")
    a = p.parse_args(argv)
    if a.build:
        os.environ["UEIP_BUILD"] = os.path.abspath(a.build)
    if os.geteuid() != 0:
        print("world.py: network namespaces need root", file=sys.stderr)
        return SKIP
    if a.cmd == "selftest":
        with World() as w:
            names = list(w.namespaces)
            print(f"built {', '.join(names)}")
        left = [ns for ns in netns_list() if ns.startswith(w.prefix)]
        print("torn down" if not left else f"LEFT: {left}")
        return 1 if left else 0
    if not a.dir:
        p.error("DIR is required")
    if a.cmd == "up":
        w = World(workdir=os.path.abspath(a.dir), owner=a.owner or os.getppid(), keep=True)
        try:
            w.build()
        except BaseException:
            w.teardown()
            raise
        _live_worlds.remove(w)
        ues = {f"NS_{n.upper()}": u.ns for n, u in w.ues.items()}
        _shell(PREFIX=w.prefix, NS_INET=w.ns("inet"), NS_GWA=w.ns("gwa"), NS_GWB=w.ns("gwb"), **ues)
        return 0
    w = World.load(os.path.abspath(a.dir))
    if a.cmd == "down":
        errors = kill_netns(list(reversed(w.namespaces)))
        for e in errors:
            print(e, file=sys.stderr)
        return 1 if errors else 0
    if a.cmd == "ueipd":
        mno = a.arg or "a"
        d = w.start_ueipd(mno)
        u = mno.upper()
        _shell(**{f"UEIPD_{u}_SOCK": d.sock, f"UEIPD_{u}_CONFIG": d.config_path, f"UEIPD_{u}_LOG": d.log,
                  f"UEIPD_{u}_PID": d.pid})
        return 0
    if a.cmd == "session":
        args = w.create_session(a.arg)
        print(json.dumps(args))
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
