"""Renders nginx.conf.template beside this file: the one nginx configuration of
docker-compose's `proxy` service (the Dockerfile's `proxy` stage runs this script when the
container starts) and of `make cluster` (inswing_realtime/cluster.py imports it).

    python3 deploy/nginx/render.py [-o PATH]

reads the environment (the container's); `--probe` instead asks the running nginx for
/readyz (exit 0 on 200: the container's healthcheck).

    NGINX_UPSTREAMS       the app processes, comma-separated host:port (required)
    NGINX_LISTEN          port or address:port nginx listens on (default 8080)
    STATIC_ROOT           the collected static files, served under /static/
                          (default /app/staticfiles)
    TLS_CERTIFICATE       with TLS_CERTIFICATE_KEY: TLS on the listening port, from these
    TLS_CERTIFICATE_KEY   files (PEM; the certificate file may hold the chain)

Standard library only: the proxy image has Python but not the app.
"""

from __future__ import annotations

import argparse
import os
import re
import ssl
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

TEMPLATE = Path(__file__).with_name("nginx.conf.template")
PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
# Passive health (see the template): failed once, a process rests this long.
FAIL_TIMEOUT = "5s"
# nginx's temporary directories (under Site.temp_dir), as the template names them.
TEMP_DIRS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


class ConfigError(ValueError):
    """The values cannot make a working configuration (the message says why)."""


@dataclass
class Site:
    """What differs between the container and `make cluster`; the rest is the template."""

    listen: str
    upstreams: list[str]
    static_root: str
    # Uploaded media (the app's MEDIA_ROOT), sent only after the app's access check.
    media_root: str = "/app/media"
    tls_certificate: str = ""
    tls_certificate_key: str = ""
    # Files (or /dev/stdout, stderr) where the container's logs go by default.
    access_log: str = "/dev/stdout"
    error_log: str = "stderr"
    pid: str = "/run/nginx.pid"
    lock_file: str = "/run/nginx.lock"
    temp_dir: str = "/var/lib/nginx"
    # The workers' user when nginx starts as root ("": nginx's default, or not root).
    user: str = "www-data"
    worker_processes: str = "auto"
    mime_types: str = "/etc/nginx/mime.types"

    @property
    def tls(self) -> bool:
        if bool(self.tls_certificate) != bool(self.tls_certificate_key):
            raise ConfigError("TLS needs both TLS_CERTIFICATE and TLS_CERTIFICATE_KEY")
        return bool(self.tls_certificate)


def _listen(site: Site) -> str:
    if not re.fullmatch(r"(\[[0-9a-fA-F:.]+\]:|[\w.-]+:)?\d{1,5}", site.listen):
        raise ConfigError(f"listen: a port or address:port, not {site.listen!r}")
    return f"{site.listen} ssl" if site.tls else site.listen


def _servers(site: Site) -> str:
    if not site.upstreams:
        raise ConfigError("no app processes (NGINX_UPSTREAMS)")
    lines = []
    for upstream in site.upstreams:
        if not re.fullmatch(r"[\w.-]+:\d{1,5}|\[[0-9a-fA-F:.]+\]:\d{1,5}", upstream):
            raise ConfigError(f"an app process is host:port, not {upstream!r}")
        lines.append(f"        server {upstream} max_fails=1 fail_timeout={FAIL_TIMEOUT};")
    return "\n".join(lines)


def _tls(site: Site) -> str:
    if not site.tls:
        return "        # TLS: off (set TLS_CERTIFICATE and TLS_CERTIFICATE_KEY)"
    for path in (site.tls_certificate, site.tls_certificate_key):
        if not Path(path).is_file():
            raise ConfigError(f"TLS: no file {path}")
    return "\n".join(
        f"        {line}"
        for line in (
            f"ssl_certificate {_quoted(site.tls_certificate)};",
            f"ssl_certificate_key {_quoted(site.tls_certificate_key)};",
            "ssl_protocols TLSv1.2 TLSv1.3;",
            "ssl_session_cache shared:TLS:10m;",
            "ssl_session_timeout 1d;",
            "ssl_session_tickets off;",
        )
    )


def _quoted(path: str) -> str:
    """A path as an nginx string (the project's path may hold spaces)."""
    if not path or re.search(r'["$\\\n]', path):
        raise ConfigError(f"a path without quotes, $, backslashes or newlines, not {path!r}")
    return f'"{path}"'


def render(site: Site) -> str:
    """The configuration for `site`, complete (no placeholder left)."""
    if not re.fullmatch(r"[\w.-]*", site.user) or not re.fullmatch(
        r"auto|\d{1,3}", site.worker_processes
    ):
        raise ConfigError(f"user {site.user!r}, worker_processes {site.worker_processes!r}")
    values = {
        "user": f"user {site.user};" if site.user else "# user: nginx's own (not started as root)",
        "worker_processes": site.worker_processes,
        "pid": _quoted(site.pid),
        "lock_file": _quoted(site.lock_file),
        "error_log": site.error_log if site.error_log == "stderr" else _quoted(site.error_log),
        "mime_types": _quoted(site.mime_types),
        "access_log": "off" if site.access_log == "off" else f"{_quoted(site.access_log)} inswing",
        "servers": _servers(site),
        "listen": _listen(site),
        "tls": _tls(site),
        "static_root": _quoted(site.static_root.rstrip("/") + "/"),
        "media_root": _quoted(site.media_root.rstrip("/") + "/"),
        **{name: _quoted(f"{site.temp_dir}/{name}") for name in TEMP_DIRS},
    }

    def fill(match: re.Match[str]) -> str:
        try:
            return values[match.group(1)]
        except KeyError:
            raise ConfigError(f"the template names {match.group(0)}, which is unknown") from None

    return PLACEHOLDER.sub(fill, TEMPLATE.read_text())


def from_environment(env: dict[str, str] | os._Environ[str] = os.environ) -> Site:
    """The container's site, from its environment (see the module's docstring)."""
    return Site(
        listen=env.get("NGINX_LISTEN", "8080").strip(),
        upstreams=[u.strip() for u in env.get("NGINX_UPSTREAMS", "").split(",") if u.strip()],
        static_root=env.get("STATIC_ROOT", "/app/staticfiles"),
        media_root=env.get("MEDIA_ROOT", "/app/media"),
        tls_certificate=env.get("TLS_CERTIFICATE", "").strip(),
        tls_certificate_key=env.get("TLS_CERTIFICATE_KEY", "").strip(),
    )


def probe(site: Site) -> bool:
    """Whether nginx, on this machine, answers /readyz with 200 (some app process is ready)."""
    scheme = "https" if site.tls else "http"
    url = f"{scheme}://127.0.0.1:{site.listen.rpartition(':')[2]}/readyz"
    # The certificate names the public host, not 127.0.0.1: the probe checks readiness only.
    context = ssl._create_unverified_context() if site.tls else None
    try:
        with urllib.request.urlopen(url, timeout=3, context=context) as response:
            return response.status == 200
    except OSError:
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-o", "--output", help="write here (default: standard output)")
    parser.add_argument("--probe", action="store_true", help="exit 0 if /readyz answers 200")
    args = parser.parse_args(argv)
    if args.probe:
        return 0 if probe(from_environment()) else 1
    try:
        text = render(from_environment())
    except ConfigError as exc:
        print(f"nginx configuration: {exc}", file=sys.stderr)
        return 2
    if args.output:
        Path(args.output).write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
