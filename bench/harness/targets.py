"""The servers under test, started and stopped by the harness, and their /proc figures."""

import os
import resource
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _raise_nofile() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def cpu_seconds(pid: int) -> float:
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server on port {port} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server on port {port} did not start")


SERVE = Path("inswing_realtime/serve.py")
# In memory, one process each: `floor` (asyncio websockets) and `daphne-floor` (the
# same rules on the project's server stack, bench/harness/daphne_floor.py).
FLOORS = ("floor", "daphne-floor")


@dataclass
class Target:
    """A set of server processes of one kind ("project", "floor" or "daphne-floor").

    `source` is the tree the project is served from: this checkout, or an older
    commit's files (`project@REF`, see `source_of`) for a before/after in one run."""

    kind: str
    count: int
    base_port: int
    env: dict[str, str]
    backlog: int = 4096
    source: Path = ROOT
    # Where a session's sockets go: "spread" over the processes, or "affinity" (one each).
    placement: str = "spread"
    procs: list[subprocess.Popen] = field(default_factory=list)

    @property
    def urls(self) -> list[str]:
        path = "/socket/websocket" if self.kind == "project" else "/"
        return [f"ws://127.0.0.1:{self.base_port + i}{path}" for i in range(self.count)]

    def command(self, port: int) -> list[str]:
        if self.kind == "floor":
            backlog = self.backlog or 100  # 0 means "the server's default": asyncio's
            return [
                sys.executable,
                str(ROOT / "bench/harness/floor.py"),
                "--port",
                str(port),
                "--backlog",
                str(backlog),
            ]
        if self.kind == "daphne-floor":
            # served from this checkout whatever the source: the stack, not the project
            return [*self._daphne(port), "bench.harness.daphne_floor:application"]
        return [*self._daphne(port), "inswing_realtime.asgi:application"]

    def _daphne(self, port: int) -> list[str]:
        """daphne as the project runs it, without the app to serve."""
        # Twisted's listen backlog is 50 unless set in an endpoint string.
        bind = (
            ["-e", f"tcp:port={port}:interface=127.0.0.1:backlog={self.backlog}"]
            if self.backlog
            else ["-b", "127.0.0.1", "-p", str(port)]
        )
        # LOOP_PROBE=DIR: under the loop probe's wrapper (bench/harness/loop_probe.py)
        run = (
            [str(ROOT / "bench/harness/loop_probe.py"), "--serve"]
            if "LOOP_PROBE" in self.env
            else ["-m"]
        )
        # A storm's handshakes wait for the event loop: give them 30 s, not 5.
        return [
            sys.executable,
            *run,
            # daphne on uvloop; older trees (project@REF) without it: daphne itself
            "inswing_realtime.serve" if (self.source / SERVE).exists() else "daphne",
            *bind,
            "--websocket_connect_timeout",
            "30",
        ]

    def start(self) -> None:
        RESULTS.mkdir(exist_ok=True)
        for i in range(self.count):
            port = self.base_port + i
            log = open(RESULTS / f"server-{self.kind}-{i}.log", "ab")
            self.procs.append(
                subprocess.Popen(
                    self.command(port),
                    cwd=ROOT if self.kind == "daphne-floor" else self.source,
                    env=self.env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    preexec_fn=_raise_nofile,
                )
            )
        for i, proc in enumerate(self.procs):
            wait_for_port(self.base_port + i, proc)

    def exited(self) -> list[int]:
        """Exit codes of server processes that died during the run (should be none)."""
        return [proc.returncode for proc in self.procs if proc.poll() is not None]

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs = []

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def cpu(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.pids)

    def rss(self) -> int:
        return sum(rss_kib(pid) for pid in self.pids)


def source_of(ref: str) -> Path:
    """The files of commit `ref` (git archive, no checkout), served with this venv."""
    sha = subprocess.run(
        ["git", "rev-parse", "--short", ref], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    target = RESULTS / ".src" / sha
    if not target.exists():
        target.mkdir(parents=True)
        archive = subprocess.run(["git", "archive", sha], cwd=ROOT, capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    return target
