"""`make cluster`: the production topology with processes on this machine, in the
foreground. nginx (Debian's, configured from deploy/nginx/, the same template as
docker-compose's) listens on one address and passes HTTP and the socket to `--processes`
app processes (daphne, `inswing_realtime.serve`) on the ports after it, which share
PostgreSQL and Redis.

    python -m inswing_realtime.cluster [--port 8080] [--processes 2] [--host 127.0.0.1] [--seed]

- `DATABASE_URL` unset: the embedded PostgreSQL (inswing_realtime/embedded_db.py), joined
  or started, and stopped at the end unless another command still uses it.
- `REDIS_URL` unset: a redis-server of its own on a free loopback port, without
  persistence.
- `RTC_TURN_SECRET` unset: coturn (Debian's `turnserver`, configured from deploy/coturn/)
  on a free port of `--host` (127.0.0.1 unless that is an IP address), with a secret of
  its own, for calls; the app processes get `RTC_TURN_SECRET`, `RTC_TURN_URLS` and a STUN
  `RTC_ICE_SERVERS` pointing at it. Without coturn installed the calls go without TURN.
- Migrations run once, before the app processes start (`--seed`: then `seed_demo`), and
  `collectstatic` fills STATIC_ROOT (`staticfiles/`), which nginx serves.
- The app processes get `NUM_PROXIES=1` (nginx is the one proxy) unless it is set.
- Ctrl-C or SIGTERM stops everything it started, in order: nginx, the app processes
  (each drains its sockets), coturn, Redis, then PostgreSQL; a second one hurries
  (SIGKILL).
- SIGHUP (`kill -HUP $(cat .cluster/PORT/cluster.pid)`) restarts the app processes one
  at a time, without a moment of fewer ready processes (`Cluster.rolling_restart`); one
  asked for during a restart runs after it.
- The children run in sessions of their own, so the terminal's Ctrl-C reaches this
  process alone, and die with it should it be killed (Linux: PR_SET_PDEATHSIG).
- An app process that exits is reported and the rest keep serving (nginx passes its
  requests to them); when nginx, coturn or Redis exits, or the last app process,
  everything stops.

nginx's configuration, pid file, temporary files and access log live in
`.cluster/PORT/` (git-ignored), coturn's in `.cluster/PORT/coturn/`; it never touches the
system's nginx or coturn service. `Nginx`, `RedisServer` and `Coturn` are the tests' too
(tests/deploy/).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import importlib.util
import ipaddress
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import IO, Any

from inswing_realtime import embedded_db

ROOT = Path(__file__).resolve().parent.parent
STATE = ROOT / ".cluster"
RENDERER = ROOT / "deploy" / "nginx" / "render.py"
TURN_RENDERER = ROOT / "deploy" / "coturn" / "render.py"
INSTALL_HINT = "bash scripts/ensure-nginx.sh (as root), or apt-get install nginx redis-server"
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
RESTART_SIGNAL = signal.SIGHUP
# An app process drains its sockets and exits within DRAIN_SECONDS + 5
# (coaching/realtime/lifecycle.py); it is killed after a little more.
APP_STOP_TIMEOUT = float(os.environ.get("DRAIN_SECONDS", "10")) + 10
START_TIMEOUT = 60.0
# nginx's new workers run and its old ones stopped accepting within this of a reload.
RELOAD_TIMEOUT = 10.0


class ClusterError(RuntimeError):
    """Something the cluster needs could not be started (the message says what)."""


class Stop(Exception):
    """A stop signal arrived."""


class RestartError(RuntimeError):
    """A rolling restart could not go on; the processes not yet replaced keep serving."""


def renderer(path: Path = RENDERER) -> ModuleType:
    """deploy/nginx/render.py, or deploy/coturn/render.py (outside the package: the proxy
    and turn images run them alone)."""
    spec = importlib.util.spec_from_file_location(f"inswing_{path.parent.name}_render", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def program(name: str) -> str:
    """The path of a Debian program (in /usr/sbin for nginx, off a user's PATH)."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")
    if found is None:
        raise ClusterError(f"{name} is not installed: {INSTALL_HINT}")
    return found


def port_is_free(port: int) -> bool:
    """Whether `port` can be bound on the loopback (a listener on any address takes it
    there too), as the embedded PostgreSQL checks its own."""
    return embedded_db._port_is_free(port)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- Children -------------------------------------------------------------------

_prctl = None
if sys.platform == "linux":
    with contextlib.suppress(OSError, AttributeError):
        _prctl = ctypes.CDLL(None, use_errno=True).prctl
PR_SET_PDEATHSIG = 1


def _die_with_parent(parent: int) -> None:
    """In the child before exec: SIGTERM when this process dies, even by SIGKILL; and
    the stop signals, which the parent holds while it starts a child, unblocked."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    if _prctl is not None:
        _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # it died before prctl
        os._exit(1)


@contextlib.contextmanager
def _held(supervised: bool = True) -> Iterator[None]:
    """Stop signals wait (they arrive at the end of the block): a child started within
    is recorded before a stop begins, so the stop finds it."""
    if not supervised:
        yield
        return
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)


@dataclass
class Child:
    """A process the cluster started and stops."""

    name: str
    proc: subprocess.Popen[bytes]
    port: int = 0  # where an app process listens

    @classmethod
    def spawn(
        cls,
        name: str,
        argv: list[str],
        *,
        env: dict[str, str] | None = None,
        output: IO | None = None,
        supervised: bool = True,
        port: int = 0,
    ) -> Child:
        """Start `argv` in a session of its own. `supervised` (the cluster's children): it
        dies with this process, and starts with the stop signals this one holds unblocked
        (code run between fork and exec: not for a process with threads, such as pytest)."""
        parent = os.getpid()
        proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT if output is not None else None,
            start_new_session=True,
            preexec_fn=(lambda: _die_with_parent(parent)) if supervised else None,
        )
        return cls(name, proc, port)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def running(self) -> bool:
        return self.proc.poll() is None

    def terminate(self) -> None:
        if self.running():
            self.proc.send_signal(signal.SIGTERM)

    def wait(self, timeout: float) -> None:
        """Wait for it to exit; SIGKILL it after `timeout` seconds."""
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            print(
                f"cluster: {self.name} did not stop in {timeout:g} s; killing it", file=sys.stderr
            )
            self.proc.kill()
            self.proc.wait()

    def stop(self, timeout: float = 10.0) -> None:
        self.terminate()
        self.wait(timeout)


def _wait_until(ready: Any, child: Child, what: str, timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if not child.running():
            raise ClusterError(f"{what} exited ({child.proc.returncode}) while starting")
        if time.monotonic() > deadline:
            raise ClusterError(f"{what} did not start within {timeout:g} s")
        time.sleep(0.1)


_direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # no http_proxy


def _answers(url: str) -> bool:
    try:
        with _direct.open(url, timeout=2) as response:
            return response.status == 200
    except (OSError, urllib.error.URLError):
        return False


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


# --- nginx, Redis, the app --------------------------------------------------------


@dataclass
class Nginx:
    """Debian's nginx in the foreground, with its configuration, pid file, temporary
    files and logs under `home` (never the system's), rendered from deploy/nginx/."""

    home: Path
    port: int
    upstreams: list[str]
    static_root: Path
    host: str = "127.0.0.1"
    tls_certificate: str = ""
    tls_certificate_key: str = ""
    worker_processes: str = "2"
    supervised: bool = False  # see Child.spawn
    child: Child | None = None

    @property
    def config(self) -> Path:
        return self.home / "nginx.conf"

    @property
    def access_log(self) -> Path:
        return self.home / "access.log"

    @property
    def url(self) -> str:
        scheme = "https" if self.tls_certificate else "http"
        return f"{scheme}://{self.host}:{self.port}"

    def write_config(self) -> Path:
        render = renderer()
        (self.home / "temp").mkdir(parents=True, exist_ok=True)
        site = render.Site(
            listen=f"{self.host}:{self.port}",
            upstreams=self.upstreams,
            static_root=str(self.static_root),
            media_root=_media_root(),
            tls_certificate=self.tls_certificate,
            tls_certificate_key=self.tls_certificate_key,
            access_log=str(self.access_log),
            error_log="stderr",
            pid=str(self.home / "nginx.pid"),
            lock_file=str(self.home / "nginx.lock"),
            temp_dir=str(self.home / "temp"),
            # Started as root, its workers run as the user that runs the app processes
            # (they read the project's static files); otherwise as that user anyway.
            user=pwd.getpwuid(os.geteuid()).pw_name if os.geteuid() == 0 else "",
            worker_processes=self.worker_processes,
        )
        try:
            self.config.write_text(render.render(site))
        except render.ConfigError as exc:
            raise ClusterError(f"nginx configuration: {exc}") from None
        return self.config

    def start(self, output: IO | None = None) -> Nginx:
        self.write_config()
        argv = [program("nginx"), "-p", f"{self.home}/", "-c", str(self.config), "-e", "stderr"]
        with _held(self.supervised):
            self.child = Child.spawn("nginx", argv, output=output, supervised=self.supervised)
        _wait_until(lambda: _accepts(self.host, self.port), self.child, "nginx")
        return self

    def reload(self, upstreams: list[str]) -> None:
        """Route to `upstreams` from now on: the configuration is rewritten and nginx told
        (SIGHUP); returns once its new workers run and the old ones accept nothing more.
        The old workers keep the connections they hold (sockets too) until these close."""
        assert self.child is not None
        old = set(self._workers())
        self.upstreams = upstreams
        self.write_config()
        self.child.proc.send_signal(signal.SIGHUP)

        def reloaded() -> bool:
            workers = self._workers()
            # An old worker that took the reload retitles itself as it closes its listeners.
            return any(pid not in old for pid in workers) and not any(
                workers[pid] == "nginx: worker process" for pid in old & set(workers)
            )

        try:
            _wait_until(reloaded, self.child, "nginx", timeout=RELOAD_TIMEOUT)
        except ClusterError:
            raise ClusterError(
                f"nginx did not take its new configuration within {RELOAD_TIMEOUT:g} s "
                "(its errors are above)"
            ) from None

    def _workers(self) -> dict[int, str]:
        """nginx's worker processes (the master's children, from /proc): pid -> title."""
        assert self.child is not None
        workers = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError, ValueError, IndexError):
                stat = (entry / "stat").read_text()
                # "pid (comm) state ppid …"; comm may hold spaces and parentheses
                if int(stat[stat.rindex(")") + 2 :].split()[1]) == self.child.pid:
                    title = (entry / "cmdline").read_bytes()
                    workers[int(entry.name)] = title.replace(b"\0", b" ").decode().strip()
        return workers

    def stop(self) -> None:
        if self.child is not None:
            self.child.stop()  # SIGTERM: nginx's fast shutdown (open sockets are closed)
            self.child = None


@dataclass
class RedisServer:
    """A redis-server of our own on a free loopback port, without persistence."""

    home: Path
    port: int = field(default_factory=free_port)
    supervised: bool = False  # see Child.spawn
    child: Child | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, output: IO | None = None) -> RedisServer:
        import redis

        self.home.mkdir(parents=True, exist_ok=True)
        argv = [
            *(program("redis-server"), "--port", str(self.port), "--bind", "127.0.0.1"),
            *("--save", "", "--appendonly", "no", "--dir", str(self.home)),
            *("--daemonize", "no", "--loglevel", "warning"),
        ]
        with _held(self.supervised):
            self.child = Child.spawn(
                "redis-server", argv, output=output, supervised=self.supervised
            )
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5)

        def pongs() -> bool:
            try:
                return bool(client.ping())
            except redis.RedisError:
                return False

        try:
            _wait_until(pongs, self.child, "redis-server", timeout=20)
        finally:
            client.close()
        return self

    def stop(self) -> None:
        if self.child is not None:
            self.child.stop()
            self.child = None


@dataclass
class Coturn:
    """Debian's turnserver for calls (STUN and TURN, UDP and TCP) on a free port of
    `host`, configured from deploy/coturn/ with a secret of its own; its configuration,
    log and pid file under `home`. Its relays may reach private and loopback addresses:
    the browsers are on this machine or its network."""

    home: Path
    host: str = "127.0.0.1"
    port: int = field(default_factory=free_port)
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    supervised: bool = False  # see Child.spawn
    child: Child | None = None

    @property
    def urls(self) -> list[str]:
        return [f"turn:{self.host}:{self.port}?transport={t}" for t in ("udp", "tcp")]

    def app_env(self) -> dict[str, str]:
        """The app processes' settings that point their calls at this coturn."""
        return {
            "RTC_TURN_SECRET": self.secret,
            "RTC_TURN_URLS": ",".join(self.urls),
            "RTC_ICE_SERVERS": json.dumps([{"urls": f"stun:{self.host}:{self.port}"}]),
        }

    def start(self, output: IO | None = None) -> Coturn:
        render = renderer(TURN_RENDERER)
        self.home.mkdir(parents=True, exist_ok=True)
        config = self.home / "turnserver.conf"
        turn = render.Turn(
            secret=self.secret,
            listening_ip=self.host,
            port=self.port,
            allow_private_peers=True,
            log_file=str(self.home / "turnserver.log"),
            pid_file=str(self.home / "turnserver.pid"),
        )
        try:
            config.write_text(render.render(turn))
        except render.ConfigError as exc:
            raise ClusterError(f"coturn configuration: {exc}") from None
        argv = [program("turnserver"), "-c", str(config)]
        with _held(self.supervised):
            self.child = Child.spawn("turnserver", argv, output=output, supervised=self.supervised)
        _wait_until(
            lambda: render.stun_answers(self.host, self.port, timeout=0.2),
            self.child,
            "turnserver",
            timeout=20,
        )
        return self

    def stop(self) -> None:
        if self.child is not None:
            self.child.stop()
            self.child = None


def _turn_host(host: str) -> str:
    """Where coturn listens for `--host`: that address if it is one (not a wildcard)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return "127.0.0.1"
    return "127.0.0.1" if address.is_unspecified else host


def app_command(port: int) -> list[str]:
    """One app process, as the README runs it (backlog and handshake timeout: bench/)."""
    return [
        *(sys.executable, "-m", "inswing_realtime.serve"),
        *("-e", f"tcp:port={port}:interface=127.0.0.1:backlog=4096"),
        *("--websocket_connect_timeout", "30", "inswing_realtime.asgi:application"),
    ]


def manage(env: dict[str, str], *args: str) -> None:
    """`manage.py ARGS` in the foreground (Ctrl-C stops it with us)."""
    result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env)
    if result.returncode != 0:
        raise ClusterError(f"manage.py {' '.join(args)} failed ({result.returncode})")


# --- The cluster ------------------------------------------------------------------


@dataclass
class Cluster:
    port: int
    processes: int
    host: str = "127.0.0.1"
    seed: bool = False
    nginx: Nginx | None = None
    redis: RedisServer | None = None
    coturn: Coturn | None = None
    apps: list[Child] = field(default_factory=list)  # in nginx's order
    joined_db: bool = False  # the embedded PostgreSQL, started or joined
    reported: set[int] = field(default_factory=set)
    env: dict[str, str] = field(default_factory=dict)  # the app processes'

    @property
    def app_ports(self) -> list[int]:
        """Where the app processes listen at first; a rolling restart moves each to the
        other of its two ports (`spare_port`) and back."""
        return [self.port + i for i in range(1, self.processes + 1)]

    @property
    def home(self) -> Path:
        return STATE / str(self.port)

    @property
    def pid_file(self) -> Path:
        """This process's pid, for `kill -HUP` (a rolling restart)."""
        return self.home / "cluster.pid"

    def spare_port(self, port: int) -> int:
        """The port an app process's replacement takes: the one after the first ports,
        and back."""
        return (
            port + self.processes if port <= self.port + self.processes else port - self.processes
        )

    def start(self) -> None:
        busy = [p for p in [self.port, *self.app_ports] if not port_is_free(p)]
        if busy:
            raise ClusterError(
                f"port {busy[0]} is in use: the cluster takes {self.port} (nginx) and "
                f"{self.app_ports[0]}-{self.app_ports[-1]}; set CLUSTER_PORT to another"
            )
        home = self.home
        home.mkdir(parents=True, exist_ok=True)
        self.pid_file.write_text(f"{os.getpid()}\n")
        program("nginx")  # before anything starts: missing is the likeliest failure
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "inswing_realtime.settings"}
        env.setdefault("NUM_PROXIES", "1")
        env.setdefault("MEDIA_ACCEL_REDIRECT", "1")  # nginx sends uploaded media
        if not env.get("DATABASE_URL"):
            env["DATABASE_URL"] = self._start_embedded_db()
        if not env.get("REDIS_URL"):
            # recorded before it starts: stop() stops it
            self.redis = RedisServer(home / "redis", supervised=True)
            self.redis.start()
            env["REDIS_URL"] = self.redis.url
        if not env.get("RTC_TURN_SECRET"):
            self._start_coturn(env)

        manage(env, "migrate", "--no-input")
        if self.seed:
            manage(env, "seed_demo")
        manage(env, "collectstatic", "--no-input", "--verbosity", "0")

        self.env = env
        for port in self.app_ports:
            with _held():
                self.apps.append(self._spawn_app(port))
        for app in self.apps:
            _wait_ready(app)

        self.nginx = Nginx(  # recorded before it starts, as Redis
            home / "nginx",
            self.port,
            self._upstreams(self.apps),
            _static_root(env),
            host=self.host,
            tls_certificate=os.environ.get("TLS_CERTIFICATE", ""),
            tls_certificate_key=os.environ.get("TLS_CERTIFICATE_KEY", ""),
            supervised=True,
        )
        self.nginx.start()
        print(
            f"\ncluster: {self.nginx.url}/ is nginx in front of {self.processes} app processes "
            f"(127.0.0.1:{self.app_ports[0]}-{self.app_ports[-1]}, "
            f"NUM_PROXIES={env['NUM_PROXIES']})\n"
            f"  PostgreSQL: {_safe(env['DATABASE_URL'])}"
            f"{' (embedded)' if self.joined_db else ''}\n"
            f"  Redis: {env['REDIS_URL']}{' (started here)' if self.redis else ''}\n"
            f"  TURN: {env.get('RTC_TURN_URLS') or 'none (calls go without TURN)'}"
            f"{' (coturn, started here)' if self.coturn else ''}\n"
            f"  nginx's access log: {self.nginx.access_log.relative_to(ROOT)}\n"
            f"  Ctrl-C stops everything; kill -HUP {os.getpid()} restarts the app processes "
            "one at a time.",
            flush=True,
        )

    def _start_coturn(self, env: dict[str, str]) -> None:
        """coturn for the calls, its settings in `env`; none when it is not installed."""
        try:
            program("turnserver")
        except ClusterError:
            print(
                "cluster: coturn is not installed (bash scripts/ensure-coturn.sh as root): "
                "calls go without TURN",
                file=sys.stderr,
                flush=True,
            )
            return
        # recorded before it starts: stop() stops it
        self.coturn = Coturn(self.home / "coturn", _turn_host(self.host), supervised=True)
        self.coturn.start()
        env.update(self.coturn.app_env())

    def _spawn_app(self, port: int) -> Child:
        return Child.spawn(f"app :{port}", app_command(port), env=self.env, port=port)

    @staticmethod
    def _upstreams(apps: list[Child]) -> list[str]:
        return [f"127.0.0.1:{app.port}" for app in apps]

    def rolling_restart(self) -> None:
        """Replace every app process, one at a time, never with fewer ready than before
        (new code in the checkout: migrations and collectstatic run first, as at start);
        the replacement starts on the other of its two ports and, once its /readyz
        answers 200, nginx routes to it instead of the old one (a reload); then the old
        one drains (SIGTERM: /readyz fails, its sockets close in batches over
        DRAIN_SECONDS and their clients reconnect through nginx to the ready ones) and
        exits, before the next one is replaced. A replacement that does not get ready, or
        a port that is taken, ends the restart there (RestartError), the old process
        still serving."""
        assert self.nginx is not None
        began = time.monotonic()
        print(f"cluster: rolling restart of {len(self.apps)} app processes", flush=True)
        try:
            manage(self.env, "migrate", "--no-input")
            manage(self.env, "collectstatic", "--no-input", "--verbosity", "0")
        except ClusterError as exc:
            raise RestartError(f"{exc}; no process was replaced") from None
        for old in list(self.apps):
            step = time.monotonic()
            port = self.spare_port(old.port)
            if not port_is_free(port):
                raise RestartError(f"port {port} is in use: {old.name} was not replaced")
            with _held():
                new = self._spawn_app(port)
                self.apps.insert(self.apps.index(old) + 1, new)
            try:
                _wait_ready(new)
            except ClusterError as exc:
                self.apps.remove(new)
                new.stop(APP_STOP_TIMEOUT)
                raise RestartError(f"{exc}; {old.name} keeps serving") from None
            ready = time.monotonic()
            self.nginx.reload(self._upstreams([app for app in self.apps if app is not old]))
            old.terminate()
            old.wait(APP_STOP_TIMEOUT)
            self.apps.remove(old)
            print(
                f"cluster: {new.name} ready in {ready - step:.1f} s and in nginx; {old.name} "
                f"drained and exited ({old.proc.returncode}) in {time.monotonic() - ready:.1f} s",
                flush=True,
            )
        print(
            f"cluster: rolling restart done in {time.monotonic() - began:.1f} s; app processes "
            f"on {', '.join(self._upstreams(self.apps))}",
            flush=True,
        )

    def _start_embedded_db(self) -> str:
        try:
            with _held():  # started and recorded, or neither: stop() releases it
                port = embedded_db.start()
                self.joined_db = True
        except embedded_db.EmbeddedDBError as exc:
            raise ClusterError(f"embedded PostgreSQL: {exc}") from None
        return embedded_db.database_url(port)

    def check(self) -> None:
        """Raise ClusterError when the cluster cannot go on; report app processes gone."""
        for child in (
            self.nginx.child if self.nginx else None,
            self.redis.child if self.redis else None,
            self.coturn.child if self.coturn else None,
        ):
            if child is not None and not child.running():
                raise ClusterError(f"{child.name} exited ({child.proc.returncode})")
        for app in self.apps:
            if not app.running() and app.pid not in self.reported:
                self.reported.add(app.pid)
                print(
                    f"cluster: {app.name} exited ({app.proc.returncode}); nginx passes its "
                    "requests to the others",
                    file=sys.stderr,
                    flush=True,
                )
        if self.apps and not any(app.running() for app in self.apps):
            raise ClusterError("every app process exited")

    def stop(self) -> None:
        """Stop what was started, in order; safe to call at any point of start()."""
        if self.nginx is not None:
            self.nginx.stop()
        for app in self.apps:
            app.terminate()
        for app in self.apps:
            app.wait(APP_STOP_TIMEOUT)
        if self.coturn is not None:
            self.coturn.stop()
        if self.redis is not None:
            self.redis.stop()
        if self.joined_db:
            self.joined_db = False
            embedded_db.release()
        if self.pid_file.exists() and self.pid_file.read_text().strip() == str(os.getpid()):
            self.pid_file.unlink()  # not another cluster's, on a port that was busy

    def hurry(self) -> None:
        """A second stop signal: SIGKILL whatever still runs."""
        for child in [
            self.nginx.child if self.nginx else None,
            *self.apps,
            self.coturn.child if self.coturn else None,
            self.redis.child if self.redis else None,
        ]:
            if child is not None and child.running():
                child.proc.kill()


def _wait_ready(app: Child) -> None:
    _wait_until(lambda: _answers(f"http://127.0.0.1:{app.port}/readyz"), app, app.name)


def _static_root(env: dict[str, str]) -> Path:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "inswing_realtime.settings")
    from django.conf import settings

    return Path(settings.STATIC_ROOT)


def _media_root() -> str:
    """Where the app processes store uploads (they run with this environment's settings)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "inswing_realtime.settings")
    from django.conf import settings

    return str(settings.MEDIA_ROOT)


def _safe(url: str) -> str:
    """A database URL without its password, for printing."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at or ":" not in credentials:
        return url
    return f"{scheme}{sep}{credentials.split(':', 1)[0]}:***@{host}"


def run(cluster: Cluster) -> int:
    stopping = False
    restart_asked = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        if not stopping:
            stopping = True
            raise Stop(signum)
        print("cluster: hurrying (SIGKILL)", file=sys.stderr, flush=True)
        cluster.hurry()

    def on_restart(_signum: int, _frame: object) -> None:
        nonlocal restart_asked
        restart_asked = True  # the main loop restarts (a handler must not block)

    for signum in STOP_SIGNALS:
        signal.signal(signum, on_signal)
    signal.signal(RESTART_SIGNAL, on_restart)
    code = 0
    try:
        cluster.start()
        while True:
            time.sleep(0.5)
            cluster.check()
            if restart_asked:
                restart_asked = False
                try:
                    cluster.rolling_restart()
                except RestartError as exc:
                    print(f"cluster: rolling restart stopped: {exc}", file=sys.stderr, flush=True)
    except Stop:
        pass
    except ClusterError as exc:
        print(f"cluster: {exc}", file=sys.stderr, flush=True)
        code = 1
    finally:
        stopping = True  # a signal from now on hurries the stop
        print("cluster: stopping what it started", flush=True)
        cluster.stop()
        print("cluster: stopped", flush=True)
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m inswing_realtime.cluster", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("CLUSTER_PORT", "8080")),
        help="nginx's port; the app processes take the next ones (env CLUSTER_PORT, 8080)",
    )  # fmt: skip
    parser.add_argument(
        "--processes", type=int, default=int(os.environ.get("CLUSTER_PROCESSES", "2")),
        help="app processes (env CLUSTER_PROCESSES, 2)",
    )  # fmt: skip
    parser.add_argument("--host", default="127.0.0.1", help="nginx's address (127.0.0.1)")
    parser.add_argument("--seed", action="store_true", help="run seed_demo after migrating")
    args = parser.parse_args(argv)
    if args.processes < 1 or not 0 < args.port < 65535 - args.processes:
        parser.error("--processes at least 1, and --port leaving room for them")
    return run(Cluster(args.port, args.processes, host=args.host, seed=args.seed))


if __name__ == "__main__":
    sys.exit(main())
