"""A cloud of N hosts on one machine, each in its own network namespace.

Layout (``<rand>`` is a fresh 6-hex-digit suffix per cloud, ``mh.suffix``)::

    kf-<rand>    fabric namespace: bridge br-ul (up, STP off), one veth per member
    ka-<rand>    API namespace: ul0 = 198.18.0.1/15, runs `kumo api`
    kh<i>-<rand> host i (1..N): ul0 = 198.18.0.(10+i)/15, runs `kumo agent --host host<i>`

Every address is on the underlay 198.18.0.0/15 *inside* these namespaces: nothing
is ever added to the root namespace, and the test process itself cannot reach the
cloud directly; it talks to it through ``ip netns exec`` (``mh.openstack``,
``mh.kumo_get``, ``mh.exec_in``). The agents' own DHCP namespaces
(``qdhcp-<network id>``) are global names, so they are collected at teardown:
new ``qdhcp-*`` namespaces belonging to this cloud's networks (or holding
processes of this run) are emptied and deleted.

Usage, through the ``multihost`` fixture (a factory; see tests/conftest.py)::

    def test_x(multihost):
        with multihost(3, driver="qemu") as mh:   # starts API + 3 agents, waits until up
            mh.openstack("hypervisor", "list")    # real CLI, inside the API namespace
            mh.import_kumo_tiny()                 # publish the cached kumo-tiny build
            mh.exec_in(1, ["ip", "-j", "addr"])   # any argv inside host1's namespace
            mh.ping(1, mh.underlay_ip(2))
            mh.kill_agent(2); mh.start_agent(2)   # restart waits for the new agent
            mh.delete_host(3)                     # agent, VMs and namespace gone
        # everything is gone here: processes, namespaces, temp dir

or without the fixture, ``with MultiHost(2, driver="fake") as mh: ...``. Teardown
runs on exit, on failure, on a half-finished start, from the fixture's finalizer
(for clouds that were started but never closed) and at interpreter exit (atexit).
On a failed start or a failing ``with`` body the tails of the API and agent logs
(``<tmp>/logs/*.log``) are printed; ``keep_tmp=True`` keeps the temp dir.

Useful attributes: ``suffix``, ``tmp_dir``, ``data_dir`` (the API's data dir:
clouds.yaml, admin-password, service-credentials.yaml), ``api_url``, ``api_ns``,
``fabric_ns``, ``host_ns(i)``, ``host_name(i)``, ``state_dir(i)``, ``underlay_ip(i)``,
``agent_pid(i)``, ``startup_seconds``.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

VENV_BIN = Path(sys.executable).parent
UNDERLAY_PREFIX = 15
API_IP = "198.18.0.1"
UNDERLAY_IF = "ul0"
FABRIC_BRIDGE = "br-ul"
MTU = 1500
API_PORT = 8000  # each cloud has its own API namespace, so a fixed port never clashes

_LIVE: set[MultiHost] = set()


def underlay_ip(i: int) -> str:
    if not 1 <= i <= 200:
        raise ValueError(f"host index {i} out of range 1..200")
    return f"198.18.0.{10 + i}"


def netns_list() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def netns_pids(ns: str) -> list[int]:
    out = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True).stdout
    return [int(p) for p in out.split() if p.isdigit()]


def pid_alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(
            errors="replace")
    except OSError:
        return ""


def processes_matching(needle: str) -> list[tuple[int, str]]:
    """Live processes whose command line contains ``needle`` (this process excluded)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        line = cmdline(int(entry.name))
        if needle in line and pid_alive(int(entry.name)):
            found.append((int(entry.name), line))
    return found


def kill_pids(pids: Iterable[int], timeout: float = 10) -> None:
    """SIGKILL and wait until the pids are gone (or zombies of someone else)."""
    pids = [p for p in pids if p != os.getpid()]
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.time() + timeout
    while time.time() < deadline and any(pid_alive(p) for p in pids):
        time.sleep(0.05)


def delete_netns(ns: str) -> None:
    """Kill every process inside ``ns``, then delete it."""
    for _ in range(3):
        pids = netns_pids(ns)
        if not pids:
            break
        kill_pids(pids)
    subprocess.run(["ip", "netns", "delete", ns], capture_output=True)


def _run(argv: Sequence[str], **kw: Any) -> subprocess.CompletedProcess[str]:
    p = subprocess.run(list(argv), capture_output=True, text=True, timeout=60, **kw)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({p.returncode}): {p.stderr.strip()}")
    return p


def _terminate(proc: subprocess.Popen[bytes] | None, sig: int = signal.SIGTERM,
               timeout: float = 15) -> int | None:
    if proc is None:
        return None
    if proc.poll() is None:
        with contextlib.suppress(OSError):
            proc.send_signal(sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(OSError):
                proc.kill()
            proc.wait()
    return proc.returncode


class MultiHost:
    """One fabric + API + N agent namespaces; a context manager (see module doc)."""

    def __init__(self, n: int, driver: str = "qemu", *, net_driver: str | None = None,
                 agent_args: Sequence[str] = (), start_timeout: float = 60,
                 tmp_root: Path | None = None, keep_tmp: bool = False) -> None:
        if n < 1:
            raise ValueError("a multi-host cloud needs at least one host")
        self.n = n
        self.driver = driver
        self.net_driver = net_driver
        self.agent_args = list(agent_args)
        self.start_timeout = start_timeout
        self.keep_tmp = keep_tmp
        self.suffix = secrets.token_hex(3)
        self.tmp_dir = Path(tempfile.mkdtemp(prefix=f"kumo-mh-{self.suffix}-", dir=tmp_root))
        self.data_dir = self.tmp_dir / "api"
        self.log_dir = self.tmp_dir / "logs"
        self.log_dir.mkdir()
        self.port = API_PORT
        self.fabric_ns = f"kf-{self.suffix}"
        self.api_ns = f"ka-{self.suffix}"
        self.hosts: set[int] = set(range(1, n + 1))  # not yet deleted
        self.api_proc: subprocess.Popen[bytes] | None = None
        self.agents: dict[int, subprocess.Popen[bytes]] = {}
        self.startup_seconds = 0.0
        self._created_ns: list[str] = []
        self._netns_before: set[str] = set()
        self._network_ids: set[str] = set()
        self._networks_known = False
        self._closed = False
        self._started = False
        _LIVE.add(self)  # even a cloud never started has a temp dir to remove

    # -- naming -------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        return f"http://{API_IP}:{self.port}"

    @property
    def clouds_yaml(self) -> Path:
        return self.data_dir / "clouds.yaml"

    @property
    def credentials(self) -> Path:
        return self.data_dir / "service-credentials.yaml"

    @property
    def admin_password(self) -> str:
        return (self.data_dir / "admin-password").read_text().strip()

    def host_ns(self, i: int) -> str:
        return f"kh{i}-{self.suffix}"

    def host_name(self, i: int) -> str:
        return f"host{i}"

    def underlay_ip(self, i: int) -> str:
        return underlay_ip(i)

    def state_dir(self, i: int) -> Path:
        return self.tmp_dir / f"host{i}"

    def agent_log(self, i: int) -> Path:
        return self.log_dir / f"agent-host{i}.log"

    @property
    def api_log(self) -> Path:
        return self.log_dir / "api.log"

    def agent_pid(self, i: int) -> int | None:
        p = self.agents.get(i)
        return p.pid if p is not None and p.poll() is None else None

    def add_namespace(self, tag: str) -> str:
        """A namespace of this cloud for a test's own use (an external network's far
        side, say): ``kx<tag>-<suffix>``, deleted with the cloud."""
        ns = f"kx{tag}-{self.suffix}"
        self._ns_add(ns)
        return ns

    def namespaces(self) -> list[str]:
        """The namespaces this harness made itself (qdhcp-* ones are the agents')."""
        return list(self._created_ns)

    # -- lifecycle ----------------------------------------------------------------

    def __enter__(self) -> MultiHost:
        return self.start()

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is not None and not isinstance(exc, KeyboardInterrupt):
            self.print_logs()
        self.close()

    def start(self) -> MultiHost:
        if self._started:
            return self
        if self._closed:
            raise RuntimeError("this cloud was closed; make a new one")
        self._started = True
        t0 = time.perf_counter()
        try:
            self._netns_before = netns_list()
            self._build_fabric()
            self._start_api()
            for i in sorted(self.hosts):
                self._add_host_ns(i)
            for i in sorted(self.hosts):
                self._spawn_agent(i)
            self._wait_agents(sorted(self.hosts))
        except BaseException:
            self.print_logs()
            self.close()
            raise
        self.startup_seconds = time.perf_counter() - t0
        return self

    def _ns_add(self, ns: str) -> None:
        if ns in netns_list():
            raise RuntimeError(f"namespace {ns} already exists")
        _run(["ip", "netns", "add", ns])
        self._created_ns.append(ns)
        _run(["ip", "-n", ns, "link", "set", "lo", "up"])

    def _build_fabric(self) -> None:
        self._ns_add(self.fabric_ns)
        _run(["ip", "-n", self.fabric_ns, "link", "add", FABRIC_BRIDGE, "type", "bridge",
              "stp_state", "0", "forward_delay", "0"])
        _run(["ip", "-n", self.fabric_ns, "link", "set", FABRIC_BRIDGE, "mtu", str(MTU), "up"])
        self._ns_add(self.api_ns)
        self._join_fabric(self.api_ns, "va", API_IP)

    def _join_fabric(self, ns: str, port: str, ip: str) -> None:
        """A veth pair made inside the fabric namespace, its peer moved straight into ns."""
        fab = self.fabric_ns
        _run(["ip", "-n", fab, "link", "add", port, "mtu", str(MTU), "type", "veth",
              "peer", "name", UNDERLAY_IF, "mtu", str(MTU), "netns", ns])
        _run(["ip", "-n", fab, "link", "set", port, "master", FABRIC_BRIDGE, "up"])
        _run(["ip", "-n", ns, "addr", "add", f"{ip}/{UNDERLAY_PREFIX}", "dev", UNDERLAY_IF])
        _run(["ip", "-n", ns, "link", "set", UNDERLAY_IF, "up"])

    def _add_host_ns(self, i: int) -> None:
        ns = self.host_ns(i)
        self._ns_add(ns)
        self._join_fabric(ns, f"vh{i}", underlay_ip(i))

    def _start_api(self) -> None:
        log = open(self.api_log, "ab")  # noqa: SIM115 - handed to the child
        try:
            self.api_proc = subprocess.Popen(
                ["ip", "netns", "exec", self.api_ns, str(VENV_BIN / "kumo"), "api",
                 "--data-dir", str(self.data_dir), "--listen", f"{API_IP}:{self.port}"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env=self._env(), start_new_session=True)
        finally:
            log.close()
        deadline = time.time() + self.start_timeout
        while time.time() < deadline:
            if b" ready at " in self.api_log.read_bytes():
                return
            if self.api_proc.poll() is not None:
                raise RuntimeError(f"kumo api exited with {self.api_proc.returncode}")
            time.sleep(0.05)
        raise RuntimeError(f"kumo api not ready within {self.start_timeout}s")

    def _spawn_agent(self, i: int) -> None:
        if i not in self.hosts:
            raise ValueError(f"host{i} was deleted")
        if self.agent_pid(i) is not None:
            raise RuntimeError(f"host{i}'s agent is already running")
        # nsenter, not `ip netns exec`: the agent creates DHCP namespaces, and a netns
        # mount made inside `ip netns exec`'s private mount namespace never reaches the
        # root one (so nothing outside could see, enter or delete it).
        argv = ["nsenter", f"--net=/run/netns/{self.host_ns(i)}", "--",
                str(VENV_BIN / "kumo"), "agent",
                "--host", self.host_name(i), "--api", self.api_url,
                "--credentials", str(self.credentials), "--underlay-ip", underlay_ip(i),
                "--state-dir", str(self.state_dir(i)), "--driver", self.driver,
                "--listen", f"{underlay_ip(i)}:9774"]
        if self.net_driver is not None:
            argv += ["--net-driver", self.net_driver]
        log = open(self.agent_log(i), "ab")  # noqa: SIM115 - handed to the child
        try:
            log.write(f"--- {time.strftime('%H:%M:%S')} starting agent\n".encode())
            log.flush()
            self.agents[i] = subprocess.Popen(
                [*argv, *self.agent_args], stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, env=self._env(), start_new_session=True)
        finally:
            log.close()

    def _wait_agents(self, indexes: list[int]) -> None:
        """Until each agent's own heartbeat lease (holder ``host<i>/<pid>``) is in the store.

        The agent renews its lease only after registering its Host, so this also
        means the Host object exists and reports this agent's status.
        """
        want = {i: f"{self.host_name(i)}/{self.agents[i].pid}" for i in indexes}
        deadline = time.time() + self.start_timeout
        holders: dict[str, Any] = {}
        while time.time() < deadline:
            for i in indexes:
                if self.agents[i].poll() is not None:
                    raise RuntimeError(f"agent host{i} exited with {self.agents[i].returncode}")
            try:
                holders = self._lease_holders()
            except RuntimeError:
                holders = {}
            if all(holders.get(self.host_name(i)) == want[i] for i in indexes):
                return
            time.sleep(0.3)
        raise RuntimeError(f"agents not registered within {self.start_timeout}s "
                           f"(want {want}, leases {holders})")

    def _lease_holders(self) -> dict[str, Any]:
        items = self.kumo_get("leases").get("items", [])
        return {o["metadata"]["name"]: (o.get("spec") or {}).get("holderIdentity")
                for o in items}

    def close(self) -> None:
        """Tear everything down; safe to call twice and after a half-finished start."""
        if self._closed:
            return
        self._closed = True
        errors: list[str] = []
        try:
            self._remember_networks()
            for i in list(self.agents):
                _terminate(self.agents.pop(i), timeout=10)
            _terminate(self.api_proc, timeout=10)
            self.api_proc = None
            self._kill_vms()
            # Processes of this run that escaped their namespace (should be none).
            kill_pids(p for p, _ in processes_matching(str(self.tmp_dir)))
            for ns in self._owned_dhcp_namespaces():
                delete_netns(ns)
            for ns in reversed(self._created_ns):
                delete_netns(ns)
            left = [ns for ns in netns_list() if ns in self._created_ns]
            if left:
                errors.append(f"namespaces left: {left}")
        finally:
            _LIVE.discard(self)
            if not self.keep_tmp:
                shutil.rmtree(self.tmp_dir, ignore_errors=True)
        if errors:
            raise RuntimeError("; ".join(errors))

    def _remember_networks(self) -> None:
        """Ids of this cloud's networks and routers: which qdhcp-*/qrouter-* are ours."""
        if self.api_proc is None or self.api_proc.poll() is not None:
            return
        with contextlib.suppress(Exception):
            items = self.kumo_get("networks", timeout=15).get("items", [])
            self._network_ids |= {o["metadata"]["name"] for o in items}
            routers = self.kumo_get("routers", timeout=15).get("items", [])
            self._network_ids |= {o["metadata"]["name"] for o in routers}
            self._networks_known = True

    def _owned_dhcp_namespaces(self) -> list[str]:
        owned = []
        for ns in sorted(netns_list() - self._netns_before):
            if not ns.startswith(("qdhcp-", "qrouter-")):
                continue
            ident = ns.removeprefix("qdhcp-").removeprefix("qrouter-")
            mine = ident in self._network_ids or any(
                str(self.tmp_dir) in cmdline(p) for p in netns_pids(ns))
            if mine or not self._networks_known:
                # Without the network list (API gone), every new qdhcp-* is this run's.
                owned.append(ns)
        return owned

    def _kill_vms(self, indexes: Iterable[int] | None = None) -> None:
        dirs = [self.state_dir(i) for i in indexes] if indexes is not None else [self.tmp_dir]
        pids = []
        for d in dirs:
            for pidfile in d.glob("**/vms/*/qemu.pid"):
                with contextlib.suppress(ValueError, OSError):
                    pids.append(int(pidfile.read_text().strip()))
        kill_pids(p for p in pids if str(self.tmp_dir) in cmdline(p))  # never a reused pid

    # -- agents and hosts -----------------------------------------------------------

    def stop_agent(self, i: int, timeout: float = 15) -> int | None:
        """SIGTERM host i's agent and wait for it (VMs keep running by design)."""
        return _terminate(self.agents.pop(i, None), timeout=timeout)

    def kill_agent(self, i: int, sig: int = signal.SIGKILL) -> int | None:
        """Send ``sig`` to host i's agent and reap it."""
        return _terminate(self.agents.pop(i, None), sig=sig, timeout=15)

    def start_agent(self, i: int, wait: bool = True) -> None:
        """(Re)start host i's agent; with ``wait``, until its new lease is in the store."""
        self._spawn_agent(i)
        if wait:
            try:
                self._wait_agents([i])
            except BaseException:
                self.print_logs()
                raise

    def delete_host(self, i: int) -> None:
        """Stop host i's agent, kill its VMs and everything in its namespace, delete it."""
        self.stop_agent(i)
        self._kill_vms([i])
        sdir = str(self.state_dir(i))
        # Its dnsmasq (in qdhcp-* namespaces) and metadata proxies outlive the agent: find
        # them by the state directory on their command lines.
        kill_pids(p for p, line in processes_matching(sdir)
                  if f"{sdir}/" in line or f"{sdir} " in line or line.endswith(sdir))
        delete_netns(self.host_ns(i))
        self.hosts.discard(i)

    # -- running things -------------------------------------------------------------

    def _env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        env.update({"OS_CLIENT_CONFIG_FILE": str(self.clouds_yaml),
                    "PATH": f"{VENV_BIN}:{env.get('PATH', '')}"})
        env.update(extra)
        return env

    def ns_of(self, where: int | str) -> str:
        """Host index -> its namespace; "api"/"fabric" -> those; any other str as is."""
        if isinstance(where, int):
            return self.host_ns(where)
        return {"api": self.api_ns, "fabric": self.fabric_ns}.get(where, where)

    def exec_in(self, where: int | str, argv: Sequence[str], *, check: bool = True,
                timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run argv inside a namespace of this cloud (host index, "api", "fabric" or name)."""
        ns = self.ns_of(where)
        if ns not in self._created_ns:
            raise ValueError(f"{ns} is not a namespace of this cloud")
        p = subprocess.run(["ip", "netns", "exec", ns, *argv], capture_output=True,
                           text=True, env=self._env(), timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} in {ns} failed ({p.returncode}):\n"
                                 f"{p.stdout[-1000:]}{p.stderr[-2000:]}")
        return p

    def ping(self, where: int | str, addr: str, count: int = 1) -> bool:
        """ICMP from a namespace of this cloud to an underlay address of this cloud."""
        if not addr.startswith("198.18.") and not addr.startswith("198.19."):
            raise ValueError(f"{addr} is not on the underlay")
        tool = ["ping"] if shutil.which("ping") else ["busybox", "ping"]
        return self.exec_in(where, [*tool, "-c", str(count), "-W", "2", addr],
                            check=False).returncode == 0

    def openstack(self, *args: str, json_out: bool = True, check: bool = True,
                  cloud: str = "kumo", timeout: float = 180) -> Any:
        """The real `openstack` CLI inside the API namespace; parsed `-f json` output."""
        argv = ["ip", "netns", "exec", self.api_ns, str(VENV_BIN / "openstack"),
                "--os-cloud", cloud, *args]
        if json_out:
            argv += ["-f", "json"]
        p = subprocess.run(argv, capture_output=True, text=True, env=self._env(),
                           timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError(f"openstack {' '.join(args)} failed ({p.returncode}):\n"
                                 f"{p.stderr[-2000:]}")
        if not check or not json_out:
            return p
        return json.loads(p.stdout) if p.stdout.strip() else None

    def kumo_get(self, plural: str, name: str | None = None, namespace: str | None = None,
                 timeout: float = 30) -> Any:
        """`kumo get` (native API, admin) inside the API namespace."""
        argv = ["ip", "netns", "exec", self.api_ns, str(VENV_BIN / "kumo"), "get", plural]
        if name:
            argv.append(name)
        if namespace:
            argv += ["-n", namespace]
        p = subprocess.run(argv, capture_output=True, text=True, env=self._env(),
                           timeout=timeout)
        if p.returncode != 0:
            raise RuntimeError(f"kumo get {plural} failed: {p.stderr.strip()[-500:]}")
        return json.loads(p.stdout)

    def import_kumo_tiny(self) -> dict[str, Any]:
        """Publish the (cached) kumo-tiny build like `kumo up` does; idempotent.

        Uploads kumo-tiny-kernel (aki), kumo-tiny-ramdisk (ari) and kumo-tiny
        (qcow2, with kernel_id/ramdisk_id/os_distro/hw_architecture) as public
        images through the CLI; returns the kumo-tiny image.
        """
        from kumo.imagebuild import kumo_tiny

        tiny = kumo_tiny.ensure_built()

        def upload(name: str, fmt: str, container: str, path: Path, *props: str) -> Any:
            found = self.openstack("image", "list", "--name", name)
            if found and found[0]["Status"] == "active":
                return self.openstack("image", "show", found[0]["ID"])
            for img in found or []:
                self.openstack("image", "delete", img["ID"], json_out=False)
            return self.openstack("image", "create", "--public", "--disk-format", fmt,
                                  "--container-format", container, "--file", str(path),
                                  *props, name)

        kernel = upload("kumo-tiny-kernel", "aki", "aki", tiny.kernel)
        ramdisk = upload("kumo-tiny-ramdisk", "ari", "ari", tiny.ramdisk)
        return upload("kumo-tiny", "qcow2", "bare", tiny.qcow2,
                      "--property", f"kernel_id={kernel['id']}",
                      "--property", f"ramdisk_id={ramdisk['id']}",
                      "--property", "os_distro=kumo-tiny",
                      "--property", "hw_architecture=x86_64")

    # -- debugging ------------------------------------------------------------------

    def print_logs(self, lines: int = 40) -> None:
        for path in sorted(self.log_dir.glob("*.log")) if self.log_dir.exists() else []:
            with contextlib.suppress(OSError):
                tail = path.read_text(errors="replace").splitlines()[-lines:]
                print(f"----- {path.name} (last {len(tail)} lines) -----", file=sys.stderr)
                print("\n".join(tail), file=sys.stderr)


def close_all() -> None:
    """Tear down every cloud still open (the atexit safety net)."""
    for mh in list(_LIVE):
        with contextlib.suppress(Exception):
            mh.close()


atexit.register(close_all)


class MultiHostFactory:
    """What the ``multihost`` fixture yields: ``multihost(n, driver=...)`` -> MultiHost."""

    def __init__(self) -> None:
        self.made: list[MultiHost] = []

    def __call__(self, n: int, driver: str = "qemu", **kw: Any) -> MultiHost:
        mh = MultiHost(n, driver, **kw)
        self.made.append(mh)
        return mh

    def close(self) -> None:
        for mh in self.made:
            with contextlib.suppress(Exception):
                mh.close()
