"""deploy/nginx/: one template, rendered for docker-compose's proxy (from its environment)
and for `make cluster`, which Debian's nginx accepts; docker-compose publishes one port."""

import subprocess
from pathlib import Path

import pytest
import yaml

from inswing_realtime.cluster import program, renderer

ROOT = Path(__file__).resolve().parents[2]
render = renderer()


def container_site(**env: str):
    """The proxy container's site, from the environment docker-compose gives it."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    environment = {
        k: str(v) for k, v in compose["services"]["proxy"]["environment"].items() if "TLS" not in k
    }
    return render.from_environment({**environment, **env})


def nginx_accepts(config: str, tmp_path: Path) -> None:
    path = tmp_path / "nginx.conf"
    path.write_text(config)
    result = subprocess.run(
        [program("nginx"), "-t", "-q", "-p", f"{tmp_path}/", "-c", str(path), "-e", "stderr"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr


def test_the_containers_configuration_is_complete_and_nginx_accepts_it(tmp_path):
    site = container_site()
    assert site.upstreams == ["web1:8000", "web2:8000"]
    config = render.render(site)
    assert "{{" not in config
    assert "server web1:8000 max_fails=1 fail_timeout=5s;" in config
    assert "listen 8080;" in config and "ssl_certificate" not in config
    # Here web1 and web2 do not resolve, and the container's paths are root's: the same
    # site on this machine's names and a directory of the test's.
    site.upstreams = ["127.0.0.1:8001", "127.0.0.1:8002"]
    site.pid, site.lock_file, site.temp_dir = (str(tmp_path / n) for n in ("pid", "lock", "tmp"))
    site.static_root = str(tmp_path)
    (tmp_path / "tmp").mkdir()  # the package's /var/lib/nginx
    nginx_accepts(render.render(site), tmp_path)


def test_tls_comes_from_the_two_paths_on_the_same_port(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_text("x")
    key.write_text("x")
    site = container_site(TLS_CERTIFICATE=str(cert), TLS_CERTIFICATE_KEY=str(key))
    config = render.render(site)
    assert "listen 8080 ssl;" in config
    assert f'ssl_certificate "{cert}";' in config and f'ssl_certificate_key "{key}";' in config
    with pytest.raises(render.ConfigError, match="both"):
        render.render(container_site(TLS_CERTIFICATE=str(cert)))
    with pytest.raises(render.ConfigError, match="no file"):
        render.render(container_site(TLS_CERTIFICATE=str(cert), TLS_CERTIFICATE_KEY="/nope"))


@pytest.mark.parametrize(
    ("field", "value"),
    [("upstreams", []), ("upstreams", ["web1"]), ("listen", "80; evil"), ("static_root", 'a"b')],
)
def test_values_that_would_break_the_configuration_are_refused(field, value):
    site = container_site()
    setattr(site, field, value)
    with pytest.raises(render.ConfigError):
        render.render(site)


def test_the_template_keeps_the_rules_of_the_front_door():
    config = render.render(container_site())
    readyz = config.split("location = /readyz", 1)[1].split("}", 1)[0]
    assert "access_log off;" in readyz and "http_503" in readyz  # passive health
    assert "access_log off;" in config.split("location = /healthz", 1)[1].split("}", 1)[0]
    assert "return 404;" in config.split("location = /metrics", 1)[1].split("}", 1)[0]
    socket = config.split("location /socket/", 1)[1].split("}", 1)[0]
    assert "proxy_read_timeout 75s;" in socket  # > 2 heartbeats of 30 s
    assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in config


def test_compose_publishes_one_port_nginx_in_front_of_the_app_processes():
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    # HTTP and the socket on one port, nginx's; coturn's TURN ports are its own (test_coturn).
    assert [name for name, service in services.items() if service.get("ports")] == [
        "proxy",
        "turn",
    ]
    assert services["proxy"]["ports"] == ["${PORT:-8000}:8080"]
    assert services["proxy"]["build"]["target"] == "proxy"
    apps = [name for name, s in services.items() if "NUM_PROXIES" in s.get("environment", {})]
    assert {f"{name}:8000" for name in apps} >= {"web1:8000", "web2:8000"}
    assert all(services[name]["environment"]["NUM_PROXIES"] == "1" for name in apps)
    assert set(services["proxy"]["depends_on"]) == {"web1", "web2"}
    assert all(
        services["proxy"]["depends_on"][name]["condition"] == "service_healthy"
        for name in ("web1", "web2")
    )
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "--proxy-headers" not in dockerfile  # inswing_realtime.serve refuses it
    assert '"/app/deploy/nginx/render.py", "--probe"' in dockerfile  # the proxy's healthcheck
