"""Two hosts on this machine: two network namespaces joined by a veth pair, one rank in each,
Open MPI over TCP between them (mpirun starts the second rank through an `ip netns exec` agent
in place of ssh). DDP training still equals one-process training on the concatenated batches."""

import os
import shutil
import subprocess
import sys

import pytest
from mpi_helpers import SCRIPTS, needs_mpi, run

pytestmark = needs_mpi

SUBNET = "10.231.{}.0/24"


def _ip(*args: str, ns: str | None = None) -> subprocess.CompletedProcess:
    cmd = ["ip", *args] if ns is None else ["ip", "netns", "exec", ns, "ip", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=20)


@pytest.fixture
def two_hosts(tmp_path):
    if shutil.which("ip") is None:
        pytest.skip("needs the `ip` command (iproute2) to make network namespaces")
    tag = os.getpid() % 200 + 20
    a, b = f"ember_a{tag}", f"ember_b{tag}"
    for ns in (a, b):  # left over by an interrupted run
        _ip("netns", "del", ns)
    probe = _ip("netns", "add", a)
    if probe.returncode != 0:
        pytest.skip(
            f"`ip netns add` is not permitted here (needs root / CAP_SYS_ADMIN): {probe.stderr.strip()}"
        )
    try:
        hosts = [f"10.231.{tag}.1", f"10.231.{tag}.2"]
        steps = [
            ("netns", "add", b),
            ("link", "add", f"veth{tag}a", "type", "veth", "peer", "name", f"veth{tag}b"),
            ("link", "set", f"veth{tag}a", "netns", a),
            ("link", "set", f"veth{tag}b", "netns", b),
        ]
        for s in steps:
            p = _ip(*s)
            assert p.returncode == 0, (s, p.stderr)
        for ns, dev, host in ((a, f"veth{tag}a", hosts[0]), (b, f"veth{tag}b", hosts[1])):
            for s in (
                ("addr", "add", f"{host}/24", "dev", dev),
                ("link", "set", dev, "up"),
                ("link", "set", "lo", "up"),
            ):
                p = _ip(*s, ns=ns)
                assert p.returncode == 0, (ns, s, p.stderr)
        agent = tmp_path / "netns_agent.sh"  # what mpirun runs instead of ssh to reach a "host"
        agent.write_text(
            '#!/bin/sh\nhost="$1"; shift\n'
            f'case "$host" in {hosts[0]}) ns={a};; {hosts[1]}) ns={b};; '
            '*) echo "netns agent: unknown host $host" >&2; exit 1;; esac\n'
            'exec ip netns exec "$ns" sh -c "$*"\n'
        )
        agent.chmod(0o755)
        yield a, hosts, agent, SUBNET.format(tag)
    finally:
        _ip("netns", "del", a)
        _ip("netns", "del", b)


def test_ddp_across_two_network_namespaces_over_tcp(two_hosts):
    ns_a, hosts, agent, subnet = two_hosts
    mca = (
        f"--mca plm_rsh_agent {agent} --mca btl tcp,self --mca btl_tcp_if_include {subnet} "
        f"--mca oob_tcp_if_include {subnet} -x PYTHONPATH -x OMP_NUM_THREADS"
    )
    launch = [
        sys.executable,
        "-m",
        "ember.cli",
        "run",
        "--nnodes",
        "2",
        "--nproc-per-node",
        "1",
        "--hosts",
        ",".join(hosts),
        "--mpirun-args",
        mca,
        str(SCRIPTS / "ddp_train.py"),
        "60",
    ]
    p, _ = run(["ip", "netns", "exec", ns_a, *launch], timeout=150)
    out = p.stdout + p.stderr
    assert p.returncode == 0, out[-4000:]
    assert "ok 0" in p.stdout and "ok 1" in p.stdout, out[-4000:]
    spaces = {
        line.split("network namespace ")[1] for line in p.stdout.splitlines() if "network namespace" in line
    }
    assert len(spaces) == 2, p.stdout  # one rank in each namespace
