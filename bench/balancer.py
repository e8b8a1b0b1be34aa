"""The documented balancers, run locally: docs/examples/haproxy.cfg and docs/examples/nginx.conf on a local port,
without TLS, in front of given replicas (the load test, the phone bench and the balancer test run these files)."""

from __future__ import annotations

import re
import socket
import subprocess
import tempfile
import time
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "docs" / "examples"
CONFIG = EXAMPLES / "haproxy.cfg"
NGINX_CONFIG = EXAMPLES / "nginx.conf"


def _edited(path: Path, edits: list[tuple[str, str]]) -> str:
    """The file's text with each (pattern, replacement) applied; ValueError naming a pattern that matched nothing
    (the documented file changed under the bench)."""
    text = path.read_text(encoding="utf-8")
    for pattern, repl in edits:
        text, n = re.subn(pattern, repl, text, flags=re.MULTILINE)
        if not n:
            raise ValueError(f"{path} has no line matching {pattern!r}")
    return text


def haproxy_config(port: int, backends: list[int], header: str | None = None) -> str:
    """docs/examples/haproxy.cfg bound to 127.0.0.1:`port` without TLS, its servers the replicas' `backends`
    ports, hashing on `header` (default: the documented one); ValueError when the file lost a line this edits."""
    servers = "\n".join(f"    server r{i} 127.0.0.1:{p} check cookie r{i}" for i, p in enumerate(backends, 1))
    edits = [
        (r"^(\s*)bind .*$", rf"\g<1>bind 127.0.0.1:{port}"),
        (r"^(\s*cookie CASES_REPLICA .*?) secure\b", r"\g<1>"),  # a cookie marked secure needs TLS
        (r"^\s*server r(?!1 )\d+ .*\n", ""),
        (r"^\s*server r1 .*$", servers),
    ]
    if header:
        edits.append((r"^(\s*balance hdr\()[^)]*\)", rf"\g<1>{header})"))
    return _edited(CONFIG, edits)


def haproxy(port: int, backends: list[int], header: str | None = None) -> subprocess.Popen:
    """HAProxy (Debian's package) on `port` with haproxy_config(); a foreground process: terminate it to stop."""
    cfg = Path(tempfile.mkstemp(prefix="haproxy-", suffix=".cfg")[1])
    cfg.write_text(haproxy_config(port, backends, header), encoding="utf-8")
    return _listening(subprocess.Popen(["haproxy", "-db", "-f", str(cfg)], stdout=subprocess.DEVNULL,
                                       stderr=subprocess.PIPE), port, "haproxy")


def nginx_config(port: int, backends: list[int], prefix: Path) -> str:
    """A whole nginx.conf: docs/examples/nginx.conf in its http block, listening on 127.0.0.1:`port` without TLS,
    its upstream the replicas' `backends` ports, every file nginx writes under `prefix`."""
    servers = "\n".join(f"    server 127.0.0.1:{p};" for p in backends)
    site = _edited(NGINX_CONFIG, [
        (r"^(\s*)listen 443 ssl;", rf"\g<1>listen 127.0.0.1:{port};"),
        (r"^\s*ssl_certificate.*\n", ""),
        (r"^\s*server 127\.0\.0\.1:8502;\n|^\s*server 127\.0\.0\.1:8503;\n", ""),
        (r"^\s*server 127\.0\.0\.1:8501;", servers),
    ])
    return (f"worker_processes 1;\npid {prefix}/nginx.pid;\nerror_log {prefix}/error.log;\nevents {{}}\n"
            f"http {{\n    include /etc/nginx/mime.types;\n    access_log off;\n"
            + "".join(f"    {k}_temp_path {prefix}/{k};\n" for k in ("client_body", "proxy", "fastcgi", "uwsgi",
                                                                         "scgi"))
            + f"{site}}}\n")


def nginx(port: int, backends: list[int]) -> subprocess.Popen:
    """nginx (Debian's package) on `port` with nginx_config(), in the foreground: terminate it to stop."""
    prefix = Path(tempfile.mkdtemp(prefix="nginx-"))
    (prefix / "nginx.conf").write_text(nginx_config(port, backends, prefix), encoding="utf-8")
    cmd = ["nginx", "-p", str(prefix), "-e", str(prefix / "error.log"), "-c", str(prefix / "nginx.conf"),
           "-g", "daemon off;"]
    return _listening(subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE), port, "nginx")


def _listening(proc: subprocess.Popen, port: int, name: str) -> subprocess.Popen:
    """`proc` once it accepts connections on `port`; RuntimeError with its stderr if it exits or never listens."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited: {proc.stderr.read().decode()[-1000:] if proc.stderr else ''}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc
        except OSError:
            time.sleep(0.2)
    proc.terminate()
    raise RuntimeError(f"{name} did not start listening")
