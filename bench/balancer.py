"""The documented balancers, run locally: docs/examples/haproxy.cfg and docs/examples/nginx.conf on a local port,
without TLS, in front of given replicas (the load test, the phone bench and the balancer test run these files)."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from screenshots import free_port, stop, wait_listening

EXAMPLES = Path(__file__).resolve().parent.parent / "docs" / "examples"
CONFIG = EXAMPLES / "haproxy.cfg"
NGINX_CONFIG = EXAMPLES / "nginx.conf"
KINDS = ("haproxy", "nginx")


def program(name: str) -> str | None:
    """The program's path: on PATH, or in /usr/sbin and /sbin, where Debian puts both balancers (and where a
    non-root user's PATH does not look)."""
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")


def _edited(path: Path, edits: list[tuple[str, str]]) -> str:
    """The file's text with each (pattern, replacement) applied to exactly one match; ValueError naming a pattern
    that matched none or several (the documented file changed under the bench)."""
    text = path.read_text(encoding="utf-8")
    for pattern, repl in edits:
        text, n = re.subn(pattern, lambda _m, r=repl: r, text, flags=re.MULTILINE)
        if n != 1:
            raise ValueError(f"{path}: {n} matches of {pattern!r}, expected one")
    return text


def haproxy_config(port: int, backends: list[int], header: str | None = None, plain: int | None = None) -> str:
    """docs/examples/haproxy.cfg bound to 127.0.0.1:`port` without TLS, its servers the replicas' `backends`
    ports, hashing on `header` (default: the documented one); its plain-HTTP redirect on `plain` (a free port)."""
    servers = "".join(f"    server r{i} 127.0.0.1:{p} check cookie r{i}\n" for i, p in enumerate(backends, 1))
    edits = [
        (r"^\s*bind :443 .*$", f"    bind 127.0.0.1:{port}"),
        (r"^\s*bind :80$", f"    bind 127.0.0.1:{plain or free_port()}"),
        (r" secure$", ""),  # the cookie's: a cookie marked secure needs TLS
        (r"(?:^\s*server r\d+ .*\n)+", servers),
    ]
    if header:
        edits.append((r"\bhdr\([^)]*\)", f"hdr({header})"))
    return _edited(CONFIG, edits)


def nginx_config(port: int, backends: list[int], prefix: Path, plain: int | None = None) -> str:
    """A whole nginx.conf: docs/examples/nginx.conf in its http block, listening on 127.0.0.1:`port` without TLS,
    its upstream the replicas' `backends` ports, its plain-HTTP redirect on `plain` (a free port), every file nginx
    writes under `prefix`."""
    site = _edited(NGINX_CONFIG, [
        (r"^\s*listen 443 .*$", f"    listen 127.0.0.1:{port};"),
        (r"^\s*listen 80;$", f"    listen 127.0.0.1:{plain or free_port()};"),
        (r"(?:^\s*ssl_.*\n)+", ""),
        (r"(?:^\s*server 127\.0\.0\.1:\d+;\n)+", "".join(f"    server 127.0.0.1:{p};\n" for p in backends)),
    ])
    temp = "".join(f"    {k}_temp_path {prefix}/{k};\n" for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return (f"worker_processes 1;\npid {prefix}/nginx.pid;\nerror_log {prefix}/error.log;\nevents {{}}\n"
            f"http {{\n    include /etc/nginx/mime.types;\n    access_log off;\n{temp}{site}}}\n")


@contextmanager
def balanced(kind: str, backends: list[int], header: str | None = None, plain: int | None = None) -> Iterator[str]:
    """Debian's `kind` (haproxy or nginx) in the foreground with its documented file in front of the replicas'
    `backends` ports; yields its URL, and stops it (and removes its files) afterwards. `header`: HAProxy's;
    `plain`: the port of its plain-HTTP redirect (default: any free one)."""
    path = program(kind)
    if path is None:
        raise RuntimeError(f"{kind} is not installed (Debian: apt-get install {kind})")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix=f"{kind}-") as tmp:
        folder, log = Path(tmp), Path(tmp) / "out.log"
        if kind == "haproxy":
            (folder / "haproxy.cfg").write_text(haproxy_config(port, backends, header, plain), encoding="utf-8")
            cmd = [path, "-db", "-f", str(folder / "haproxy.cfg")]
        else:
            (folder / "nginx.conf").write_text(nginx_config(port, backends, folder, plain), encoding="utf-8")
            cmd = [path, "-p", str(folder), "-e", str(log), "-c", str(folder / "nginx.conf"), "-g", "daemon off;"]
        with log.open("ab") as out:  # a file, not a pipe nobody reads: HAProxy logs every health change
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_listening(proc, port, log, 20, poll=0.1, name=kind)
            yield f"http://127.0.0.1:{port}"
        finally:
            stop(proc)
