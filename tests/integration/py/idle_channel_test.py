#!/usr/bin/python3
"""Idle client channels are not cut off (issue 10, bug 3).

Applications hold a gRPC channel open and call now and then. This drives a real local cluster
(scripts/local-cluster.sh: 3 controllers + 1 broker on 127.0.0.1) with a client this project
did not write -- Python's grpcio from Debian, with gRPC's default channel settings and raw
protobuf bytes, no generated code -- and calls a broker and a controller after 2.5, 4, 10 and 30
seconds of idleness on one channel each. Every call must succeed, and the channel must still be
READY after each idle period (a silent reconnect would hide a connection the server cut). Nothing
polls the channel while it is idle, as in an application between calls.

Usage: idle_channel_test.py LOCAL_CLUSTER_SCRIPT BIN_DIR
Prints "N passed, M failed" and exits 0 only when every check passed.
"""
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time

import grpc

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
from cluster_env import read_cluster_env  # noqa: E402  (tests/tools)

IDLE_SECONDS = [2.5, 4, 10, 30]
CALL_TIMEOUT_S = 5


def free_base_port():
    """A base port whose cluster range (base+1 .. base+199) looks free right now."""
    for _ in range(50):
        base = random.randrange(15000, 19800, 200)
        taken = False
        for port in list(range(base + 1, base + 12)) + list(range(base + 101, base + 112)):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    taken = True
                    break
        if not taken:
            return base
    raise RuntimeError("no free port range")



def connectivity(channel):
    """The channel's state, without asking it to connect. (grpcio has no public call for this
    that does not start a thread polling the channel -- and a polled channel answers the
    server's keepalive pings, which would hide the bug this test is about.)"""
    return grpc.ChannelConnectivity(  # pylint: disable=protected-access
        [c for c in grpc.ChannelConnectivity
         if c.value[0] == channel._channel.check_connectivity_state(False)][0].value)


def exercise(name, address, method, results):
    """One channel: a call, then calls after each idle period; returns problems found."""
    problems = []
    channel = grpc.insecure_channel(address)  # gRPC's defaults, as an application's
    health = channel.unary_unary("/grpc.health.v1.Health/Check")
    call = channel.unary_unary(method)
    try:
        health(b"", timeout=CALL_TIMEOUT_S)
        call(b"", timeout=CALL_TIMEOUT_S)
        if connectivity(channel) != grpc.ChannelConnectivity.READY:
            problems.append(f"{name}: not READY after the first calls: {connectivity(channel)}")
        for idle in IDLE_SECONDS:
            time.sleep(idle)
            # Still connected after the idle time: a server that cut the connection leaves the
            # channel IDLE or failing, and the next call would reconnect (or fail).
            state = connectivity(channel)
            if state != grpc.ChannelConnectivity.READY:
                problems.append(f"{name}: after {idle} s idle the channel is {state.name}, "
                                "not READY: the server closed the connection")
            for label, rpc in (("health", health), (method, call)):
                try:
                    rpc(b"", timeout=CALL_TIMEOUT_S)
                except grpc.RpcError as e:
                    problems.append(f"{name}: {label} after {idle} s idle failed: "
                                    f"{e.code().name}: {e.details()}")
    finally:
        channel.close()
    results[name] = problems


def main():
    script, bin_dir = sys.argv[1], sys.argv[2]
    env = dict(os.environ, STRAND_BIN_DIR=bin_dir)
    passed = failed = 0
    with tempfile.TemporaryDirectory(prefix="strand-idle-") as d:
        up = None
        for _ in range(3):
            base = free_base_port()
            up = subprocess.run([script, "up", "--controllers", "3", "--brokers", "1", "--dir", d,
                                 "--base-port", str(base), "--timeout", "120"],
                                env=env, capture_output=True, text=True)
            if up.returncode == 0:
                break
        if up.returncode != 0:
            print(up.stdout, up.stderr)
            print("0 passed, 1 failed")
            return 1
        try:
            nodes = read_cluster_env(os.path.join(d, "cluster.env"))
            targets = {
                "broker 101": (nodes["STRAND_NODE_101_ADDR"],
                               "/strand.broker.v1.BrokerService/Metadata"),
                "controller 1": (nodes["STRAND_NODE_1_ADDR"],
                                 "/strand.admin.v1.AdminService/DescribeCluster"),
            }
            results = {}
            threads = [threading.Thread(target=exercise, args=(n, a, m, results))
                       for n, (a, m) in targets.items()]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            for name in targets:
                problems = results.get(name, [f"{name}: the check did not finish"])
                for p in problems:
                    print("FAIL", p)
                if problems:
                    failed += 1
                else:
                    print(f"ok   {name}: calls after {IDLE_SECONDS} s idle on one channel, "
                          "READY after each")
                    passed += 1
        finally:
            subprocess.run([script, "down", "--dir", d], env=env, capture_output=True)
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
