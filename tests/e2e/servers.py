"""Real Ray, Dask, Redis and Celery servers on loopback, owned and always stopped by a test.

Test traffic stays on 127.0.0.0/8 (docs/clusters.md). Ray 2.60 cannot keep a
two-node cluster there on its own: a node whose IP is 127.0.0.1 advertises the
machine's routable address instead, and its GCS and raylets listen on every
interface. So a Ray cluster runs inside a network namespace the test creates
(``isolated=True``): only ``lo`` exists there, the head is 127.0.0.1, the second
node 127.0.0.2, and the pytest run that measures it enters the same namespace.

Each server runs in a session of its own (``start_new_session``), so everything it
forks, daemons included, can be found by session id and stopped with it: SIGTERM,
a grace period, then SIGKILL. Nothing here uses ``ray stop`` or a name match: those
would reach servers other people on the machine started.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[2]
LOOPBACK = "127.0.0.1"
START_TIMEOUT = 60.0


def free_port() -> int:
    """A TCP port free on loopback right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
        return port


def venv_tool(name: str) -> str:
    """A console script installed beside this Python (ray, dask, celery)."""
    path = Path(sys.executable).parent / name
    return str(path) if path.exists() else name


class Server:
    """One server process this test started, with its log, its session, its stop."""

    def __init__(
        self, name: str, argv: list[str], workdir: Path, env: dict[str, str], prefix: list[str]
    ) -> None:
        self.name = name
        self.argv = [*prefix, *argv]
        self.log_path = workdir / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.killed = False  # on purpose, by the test: not a failure to report
        self.process = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=workdir,
            env=env,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def tree(self) -> list[psutil.Process]:
        """Every live process of this server: its session, plus any child that left it."""
        found: dict[int, psutil.Process] = {}
        for process in psutil.process_iter():
            try:
                if os.getsid(process.pid) == self.pid:
                    found[process.pid] = process
            except (ProcessLookupError, PermissionError, psutil.Error):
                continue
        try:
            for child in psutil.Process(self.pid).children(recursive=True):
                found.setdefault(child.pid, child)
        except psutil.NoSuchProcess:
            pass
        return list(found.values())

    def kill(self) -> None:
        """SIGKILL the whole server at once: a node or worker that disappears."""
        self.killed = True
        self._signal(self.tree(), signal.SIGKILL)
        self._reap(5.0)

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM everything it runs, SIGKILL what is left after ``grace``; reap."""
        processes = self.tree()
        self._signal(processes, signal.SIGTERM)
        _, alive = psutil.wait_procs(processes, timeout=grace)
        self._signal(alive, signal.SIGKILL)
        psutil.wait_procs(alive, timeout=5.0)
        self._reap(5.0)
        self._log.close()

    def _signal(self, processes: list[psutil.Process], signum: int) -> None:
        for process in processes:
            with suppress(psutil.NoSuchProcess):
                process.send_signal(signum)

    def _reap(self, timeout: float) -> None:
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5.0)

    def log_tail(self, lines: int = 30) -> str:
        self._log.flush()
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])


@dataclass
class Servers:
    """The servers of one test, stopped in reverse order of their start."""

    workdir: Path
    env: dict[str, str]
    started: list[Server] = field(default_factory=list)
    # Run every command inside the test's network namespace (nsenter), or as is.
    prefix: list[str] = field(default_factory=list)
    # A process inside that namespace: /proc/PID/net shows its sockets.
    namespace_pid: int | None = None

    def start(self, name: str, argv: list[str]) -> Server:
        server = Server(name, argv, self.workdir, self.env, self.prefix)
        self.started.append(server)
        return server

    def command(self, *argv: str) -> list[str]:
        """``argv`` as it must run to reach these servers (inside their namespace)."""
        return [*self.prefix, *argv]

    def pids(self) -> set[int]:
        """Every live process of every server still running."""
        return {process.pid for server in self.started for process in server.tree()}

    def isolate(self) -> None:
        """Create a network namespace with only ``lo`` (up); later servers run in it.

        As root, a plain network namespace; otherwise inside a user namespace that
        maps this user to root. Raises NamespaceUnavailable when neither works.
        """
        unshare, nsenter = shutil.which("unshare"), shutil.which("nsenter")
        if unshare is None or nsenter is None:
            raise NamespaceUnavailable("unshare/nsenter (util-linux) are not installed")
        user = [] if os.geteuid() == 0 else ["--user", "--map-root-user"]
        holder = self.start(
            "netns",
            [unshare, *user, "--net", "--", "sh", "-c", "ip link set lo up && exec sleep 86400"],
        )
        enter = [nsenter, f"--target={holder.pid}", "--net"]
        if user:
            enter += ["--user", "--preserve-credentials"]
        try:
            self.wait("network namespace", lambda: _lo_up(holder.pid), timeout=10)
        except RuntimeError as error:
            raise NamespaceUnavailable(str(error)) from error
        self.prefix = [*enter, "--"]
        self.namespace_pid = holder.pid

    def wait(self, what: str, ready: Callable[[], bool], timeout: float = START_TIMEOUT) -> float:
        """Poll ``ready`` until true; fail with the logs of any server that died meanwhile.

        Returns the seconds it took, for the report.
        """
        started = time.monotonic()
        while not ready():
            dead = [s for s in self.started if not s.killed and not s.alive()]
            if dead:
                raise RuntimeError(
                    f"{what}: {dead[0].name} exited with {dead[0].process.returncode}:\n"
                    f"{dead[0].log_tail()}"
                )
            if time.monotonic() - started > timeout:
                logs = "\n".join(f"--- {s.name}\n{s.log_tail(10)}" for s in self.started)
                raise RuntimeError(f"{what}: not ready after {timeout:g} s\n{logs}")
            time.sleep(0.1)
        return time.monotonic() - started

    def stop_all(self) -> None:
        for server in reversed(self.started):
            server.stop()

    def all_alive(self) -> bool:
        return all(server.alive() for server in self.started)


class NamespaceUnavailable(RuntimeError):
    """This machine cannot give the test a network namespace of its own."""


def _lo_up(pid: int) -> bool:
    """``pid`` is in a network namespace of its own and ``lo`` is up there.

    Right after the start ``unshare`` may not have switched namespace yet: its
    /proc view is still this machine's (where 127.0.0.0/8 exists too), and an
    nsenter then would enter the machine's namespace. So the namespace itself is
    compared first; the 127.0.0.0/8 route exists only once ``lo`` is up.
    """
    try:
        if os.readlink(f"/proc/{pid}/ns/net") == os.readlink("/proc/self/ns/net"):
            return False
        return "127.0.0.0" in Path(f"/proc/{pid}/net/fib_trie").read_text()
    except OSError:
        return False


@contextmanager
def servers(work_module: str, code: str, *, isolated: bool = False) -> Iterator[Servers]:
    """A working directory holding ``work_module`` (on PYTHONPATH for every server) and
    a Servers that is stopped on exit, even when the test failed.

    ``isolated``: every server runs in a network namespace of the test's own.
    """
    workdir = Path(tempfile.mkdtemp(prefix="prs-"))  # short: Ray's socket paths are limited
    (workdir / f"{work_module}.py").write_text(code)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(workdir), str(ROOT), env.get("PYTHONPATH", "")])
    env["RAY_AUTH_MODE"] = "disabled"
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    # The GCS marks a killed node dead after ~1.5 s instead of ~15 s.
    env["RAY_health_check_period_ms"] = "500"
    env["RAY_health_check_timeout_ms"] = "500"
    env["RAY_health_check_failure_threshold"] = "3"
    # CI containers run as root; Celery refuses a pickle-accepting worker as root
    # unless told this is intended (pytest-parscale ships functions with pickle).
    env["C_FORCE_ROOT"] = "1"
    env.pop("PYTEST_ADDOPTS", None)
    group = Servers(workdir, env)
    with ExitStack() as stack:
        stack.callback(shutil.rmtree, workdir, True)
        stack.callback(group.stop_all)
        if isolated:
            group.isolate()
        yield group


def port_open(port: int, group: Servers | None = None) -> Callable[[], bool]:
    """Something listens on ``port``: in the group's namespace when it has one."""

    pid = None if group is None else group.namespace_pid

    def listening() -> bool:
        for table in ("tcp", "tcp6"):
            try:
                rows = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
            except OSError:
                return False
            for row in rows:
                fields = row.split()
                if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    return True
        return False

    if pid is not None:
        return listening

    def ready() -> bool:
        try:
            with socket.create_connection((LOOPBACK, port), timeout=0.5):
                return True
        except OSError:
            return False

    return ready


def probe(group: Servers, script: str, timeout: float = 60.0) -> str:
    """Run a small Python client against the servers; its stdout, or why it failed.

    Fails as soon as a server dies instead of waiting for the client's timeout.
    """
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        client = subprocess.Popen(
            group.command(sys.executable, "-c", script),
            stdout=out,
            stderr=err,
            env=group.env,
            cwd=group.workdir,
        )
        try:
            group.wait("probe", lambda: client.poll() is not None, timeout)
        finally:
            if client.poll() is None:
                client.kill()
            client.wait(10)
        out.seek(0)
        err.seek(0)
        if client.returncode != 0:
            raise RuntimeError(f"probe failed ({client.returncode}):\n{err.read()[-3000:]}")
        return out.read().strip()


# -- the three clusters ------------------------------------------------------------


SECOND_NODE = "127.0.0.2"


def start_ray(group: Servers) -> tuple[str, Server]:
    """A head with 1 CPU on 127.0.0.1 and a second node with 1 CPU on 127.0.0.2;
    returns (address, worker node). Run it in an isolated group (see the top)."""
    port = free_port()
    address = f"{LOOPBACK}:{port}"
    ray = venv_tool("ray")
    common = ["--num-cpus=1", "--disable-usage-stats", "--block"]
    group.start(
        "ray-head",
        [
            ray,
            "start",
            "--head",
            f"--port={port}",
            "--include-dashboard=false",
            f"--dashboard-port={free_port()}",
            f"--dashboard-agent-listen-port={free_port()}",
            f"--temp-dir={group.workdir / 'ray'}",
            f"--node-ip-address={LOOPBACK}",
            *common,
        ],
    )
    group.wait("ray head", port_open(port, group))
    node = group.start(
        "ray-node",
        [
            ray,
            "start",
            f"--address={address}",
            f"--dashboard-agent-listen-port={free_port()}",
            f"--node-ip-address={SECOND_NODE}",
            *common,
        ],
    )
    return address, node


RAY_PROBE = """
import time, ray
ray.init(address={address!r}, log_to_driver=False)
deadline = time.monotonic() + 60
while ray.cluster_resources().get("CPU", 0) < {cpus} and time.monotonic() < deadline:
    time.sleep(0.2)
@ray.remote
def square(x):
    return x * x
print(ray.cluster_resources().get("CPU", 0), ray.get([square.remote(i) for i in range(4)]))
"""


def start_dask(group: Servers) -> tuple[str, list[Server]]:
    """A scheduler and two single-threaded workers without nannies (a kill is final)."""
    port = free_port()
    address = f"tcp://{LOOPBACK}:{port}"
    dask = venv_tool("dask")
    group.start(
        "dask-scheduler",
        # Its HTTP server (metrics) listens on every interface unless told otherwise.
        [
            dask,
            "scheduler",
            "--host",
            LOOPBACK,
            "--port",
            str(port),
            "--no-dashboard",
            "--dashboard-address",
            f"{LOOPBACK}:0",
        ],
    )
    group.wait("dask scheduler", port_open(port, group))
    workers = [
        group.start(
            f"dask-worker-{index}",
            [
                dask,
                "worker",
                address,
                "--nthreads",
                "1",
                "--no-nanny",
                "--no-dashboard",
                "--dashboard-address",
                f"{LOOPBACK}:0",
                "--host",
                LOOPBACK,
                "--memory-limit",
                "0",
                "--name",
                f"w{index}",
                "--local-directory",
                str(group.workdir / f"dask-w{index}"),
            ],
        )
        for index in (1, 2)
    ]
    return address, workers


DASK_PROBE = """
from distributed import Client
with Client({address!r}, timeout=30) as client:
    client.wait_for_workers({workers}, timeout=60)
    threads = sum(client.nthreads().values())
    print(threads, client.gather(client.map(lambda x: x * x, range(4))))
"""


def start_redis(group: Servers) -> str:
    port = free_port()
    group.start(
        "redis",
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            LOOPBACK,
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(group.workdir),
        ],
    )
    group.wait("redis", port_open(port, group))
    return f"redis://{LOOPBACK}:{port}"


def start_celery(group: Servers, redis: str) -> tuple[str, str, Server]:
    """A prefork worker of pytest-parscale's app, concurrency 2; (broker, backend, worker)."""
    broker, backend = f"{redis}/0", f"{redis}/1"
    worker = group.start(
        "celery-worker",
        [
            venv_tool("celery"),
            "-A",
            "pytest_parscale.backends.celery",
            "-b",
            broker,
            "--result-backend",
            backend,
            "worker",
            "--pool",
            "prefork",
            "--concurrency",
            "2",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            "--hostname",
            f"parscale-test-{os.getpid()}@localhost",
            "--loglevel",
            "WARNING",
        ],
    )
    return broker, backend, worker


CELERY_PROBE = """
import time
from pytest_parscale.backends.celery import CALL_TASK, build_app
from operator import neg
app = build_app({broker!r}, {backend!r})
deadline = time.monotonic() + 60
stats = None
while not stats and time.monotonic() < deadline:
    stats = app.control.inspect(timeout=1.0).stats()
concurrency = sum(info["pool"]["max-concurrency"] for info in (stats or {{}}).values())
results = [app.tasks[CALL_TASK].delay(neg, i).get(timeout=30) for i in range(4)]
print(concurrency, results)
"""


def redis_ping(url: str) -> bool:
    host, port = url.removeprefix("redis://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as connection:
        connection.sendall(b"PING\r\n")
        return connection.recv(16).startswith(b"+PONG")
