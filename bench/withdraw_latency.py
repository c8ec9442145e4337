#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Withdrawal-to-notice latency: operator `public-withdraw` -> the UE holds the notice.

Runs one ueipd (nft data path, or null when not root) inside a network
namespace of its own, gives N UEs (loopback addresses 127.100.0.x) a dedicated
public address each over PCP, then withdraws them one by one and measures,
per UE, the time from sending the control command to the arrival of the
unsolicited MAP response with lifetime 0 at the UE's socket. Prints p50, p99
and max. The answer to the operator comes after the store commit and the
data-path commit, and the notice leaves in that same loop turn, so the figure
includes an fsync and an nftables transaction.

usage: bench/withdraw_latency.py BUILD_DIR [N]
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "integration"))
import pcpwire as pw  # noqa: E402

NS = f"ueip-wd-{os.getpid()}"


def in_namespace():
    """Re-run this script inside a fresh network namespace (root), with lo up."""
    if os.environ.get("UEIP_WD_INNER") or os.geteuid() != 0:
        return False
    subprocess.run(["ip", "netns", "add", NS], check=True)
    try:
        subprocess.run(["ip", "-n", NS, "link", "set", "lo", "up"], check=True)
        env = dict(os.environ, UEIP_WD_INNER="1")
        rc = subprocess.run(["ip", "netns", "exec", NS, sys.executable] + sys.argv, env=env).returncode
    finally:
        subprocess.run(["ip", "netns", "del", NS])
    sys.exit(rc)


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build-release"
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    in_namespace()
    backend = "nft" if os.geteuid() == 0 else "null"
    d = tempfile.mkdtemp(prefix="ueip-wd-")
    conf = os.path.join(d, "c.yaml")
    with open(conf, "w") as f:
        f.write(f"""set: {{ id: b, member: m1, key: 00112233445566778899aabbccddeeff,
       members: [ {{ id: m1, address: 127.0.0.1:7999 }} ] }}
chunk_size: 1024
pools: [ {{ name: ue4, dnn: internet, ipv4: 127.100.0.1-127.100.3.250 }} ]
store: {{ path: {d}/s.db }}
control: {{ socket: {d}/c.sock }}
public:
  pcp: {{ address: 127.0.0.1:5351 }}
  pools: [ {{ name: pub, ipv4: 198.18.0.1-198.18.3.250 }} ]
  rate: {{ per_ue: 1000, burst: 1000 }}
dataplane: {{ backend: {backend} }}
""")
    ueipd = subprocess.Popen([os.path.join(build, "src/daemon/ueipd"), "-c", conf],
                             stdout=open(os.path.join(d, "log"), "w"), stderr=subprocess.STDOUT)
    ctl = [os.path.join(build, "src/cli/ueipctl"), "-s", os.path.join(d, "c.sock"), "--json"]
    try:
        deadline = time.monotonic() + 10
        while not os.path.exists(os.path.join(d, "c.sock")) and time.monotonic() < deadline:
            time.sleep(0.02)
        clients = []
        for i in range(n):
            out = subprocess.run(ctl + ["session-create", f"supi=imsi-00101{i:010d}", "dnn=internet",
                                        "snssai=1", "pdu=1"], capture_output=True, text=True, check=True)
            ans = __import__("json").loads(out.stdout)
            ue = ans.get("ipv4") or ans["arguments"]["ipv4"]
            c = pw.Client(ue, ("127.0.0.1", 5351))
            r = pw.parse(c.ask(pw.map_request(ue)[0]))
            assert r and r["result"] == 0, r
            clients.append((ue, c))
        lat = []
        for ue, c in clients:
            t0 = time.perf_counter()
            subprocess.Popen(ctl + ["public-withdraw", f"ue={ue}"], stdout=subprocess.DEVNULL)
            note = pw.parse(c.listen(5))
            t1 = time.perf_counter()
            assert note and note["lifetime"] == 0, note
            lat.append((t1 - t0) * 1000)
        lat.sort()
        pct = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]  # noqa: E731
        print(f"withdraw -> notice, {n} UEs, backend {backend} (includes starting ueipctl):"
              f" p50 {pct(0.5):.2f} ms  p99 {pct(0.99):.2f} ms  max {lat[-1]:.2f} ms")
    finally:
        ueipd.terminate()
        ueipd.wait(10)
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
