"""Serve the board dashboards with Voila, safely by default.

* sources stripped, tracebacks off, an execution timeout, idle kernels culled;
* a preheated kernel pool for the dashboards (Voila's ``preheat_kernel``);
* only the front-end extensions the boards need (the widget managers): other
  JupyterLab extensions installed for analysts (plotly's, jupytext's) would
  add ~5 MB of JavaScript to every page;
* a template derived from Voila's own ``lab`` template without its two CDN
  stylesheet links (Font Awesome ships inside Voila's bundle anyway), so a page
  makes no request to any non-local host, and with a small script that tells
  the viewer in German when the page's kernel is gone (killed, restarted or
  culled) and offers a reload;
* loopback by default; binding to any other address requires a token
  (``CASEWORK_VOILA_TOKEN``) or ``--token``; behind a reverse proxy set
  ``--base-url /prefix/``.

``casework serve [--host 127.0.0.1] [--port 8866] [--base-url /] [--token T] [--data DIR] [--dashboards DIR]``

Which dashboards and data are served follows :mod:`casework.paths` (the checkout's folders, or the ones
shipped in an installed wheel).
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

from casework import paths

__all__ = ["voila_command", "voila_env", "prepare_template", "free_port", "wait_until_serving", "main", "ROOT",
           "DASHBOARDS", "TEMPLATE_NAME", "BOARD_EXTENSIONS", "add_arguments", "serve"]

#: the home folder at import (tests and benchmarks run Voila from it); see casework.paths
ROOT = paths.home()
#: the dashboards served by default (casework.paths: ./dashboards or the ones shipped in the package)
DASHBOARDS = paths.dashboards_dir()
TEMPLATE_NAME = "casework"
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
# the boards use ipywidgets only; Voila's widget manager needs the JupyterLab one beside it
BOARD_EXTENSIONS = ("@voila-dashboards/widgets-manager8", "@jupyter-widgets/jupyterlab-manager")
_CDN_LINK = re.compile(r'^\s*<link[^>]+href="https?://[^"]+"[^>]*/>\s*$', re.MULTILINE)


def prepare_template(target: Path | None = None) -> Path:
    """Write the ``casework`` Voila template (lab minus external links); returns the JUPYTER_PATH root."""
    import voila

    root = Path(target) if target else paths.artifacts_dir() / "jupyter"
    lab = _voila_templates_dir(voila) / "lab"
    out = root / "voila" / "templates" / TEMPLATE_NAME
    out.mkdir(parents=True, exist_ok=True)
    source = (lab / "index.html.j2").read_text(encoding="utf-8")
    cleaned = _CDN_LINK.sub("", source)
    (out / "index.html.j2").write_text(_with_kernel_watch(cleaned), encoding="utf-8")
    (out / "conf.json").write_text('{"base_template": "lab"}\n', encoding="utf-8")
    return root


def _with_kernel_watch(template: str) -> str:
    """Add the script that tells viewers in German when the page's kernel is gone (static/kernel_watch.js)."""
    marker = "{%- block html_head_js -%}"
    if marker not in template:
        raise ValueError("Voila's lab template changed: no html_head_js block to add the kernel watch to")
    script = (Path(__file__).parent / "static" / "kernel_watch.js").read_text(encoding="utf-8")
    return template.replace(marker, marker + "\n{% raw %}<script>\n" + script + "</script>{% endraw %}", 1)


def _voila_templates_dir(voila_module) -> Path:
    from jupyter_core.paths import jupyter_path

    prefix = Path(voila_module.__file__).resolve().parents[4]  # <prefix>/lib/pythonX.Y/site-packages/voila
    candidates = [Path(p) / "templates" for p in jupyter_path("voila")]
    candidates += [Path(sys.prefix) / "share" / "jupyter" / "voila" / "templates",
                   prefix / "share" / "jupyter" / "voila" / "templates"]
    for c in candidates:
        if (c / "lab" / "index.html.j2").exists():
            return c
    raise FileNotFoundError("Voila's lab template was not found under " + ", ".join(map(str, candidates)))


def voila_env(jupyter_path: Path, data_dir: Path | None = None, dashboards: Path | None = None) -> dict:
    """Environment for the Voila process: our template on JUPYTER_PATH, the data folder for dashboards, the
    dashboards folder the landing page lists."""
    env = dict(os.environ)
    env["CASEWORK_DASHBOARDS"] = str(Path(dashboards or DASHBOARDS).resolve())
    env["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(jupyter_path), env.get("JUPYTER_PATH", "")]))
    env["CASEWORK_DATA"] = str(data_dir or paths.data_dir())
    env.setdefault("MPLBACKEND", "Agg")
    return env


def voila_command(target: Path | str = DASHBOARDS, *, host: str = "127.0.0.1", port: int = 8866,
                  base_url: str = "/", token: str | None = None, timeout: int = 120, pool_size: int = 1,
                  preheat: bool = True, startup_timeout: int = 300) -> list[str]:
    """The Voila command line with the safe defaults of this module.

    Examples
    --------
    >>> cmd = voila_command(port=9999)
    >>> "--port=9999" in cmd and "--VoilaConfiguration.strip_sources=True" in cmd
    True
    """
    if host not in _LOOPBACK and not token:
        raise ValueError(f"refusing to serve on {host!r} without a token: set CASEWORK_VOILA_TOKEN or --token "
                         "(only loopback addresses are served without one)")
    cmd = [sys.executable, "-m", "voila", str(target), "--no-browser", f"--port={port}", f"--Voila.ip={host}",
           "--Voila.port_retries=0", f"--Voila.base_url={base_url}",
           f"--VoilaConfiguration.template={TEMPLATE_NAME}",
           "--VoilaConfiguration.strip_sources=True", "--VoilaConfiguration.show_tracebacks=False",
           f"--VoilaExecutor.timeout={timeout}", f"--VoilaExecutor.startup_timeout={startup_timeout}",
           "--MappingKernelManager.cull_idle_timeout=600", "--MappingKernelManager.cull_interval=60",
           "--MappingKernelManager.transport_encryption=auto",
           "--VoilaConfiguration.file_allowlist=['.*\\.(png|svg|csv|xlsx)']",
           f"--VoilaConfiguration.extension_allowlist={list(BOARD_EXTENSIONS)}"]
    if preheat:
        cmd += ["--VoilaConfiguration.preheat_kernel=True", f"--VoilaConfiguration.default_pool_size={pool_size}"]
    # Voila's standalone server reads its own Voila.token (ServerApp.token is ignored by it)
    cmd.append(f"--Voila.token={token or ''}")
    return cmd


def free_port(host: str = "127.0.0.1") -> int:
    """A port that is free on ``host`` right now (for tests, benchmarks and ``--port 0``-like use)."""
    import socket

    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def wait_until_serving(root_url: str, *, proc=None, timeout: float = 90, log_path: Path | None = None) -> None:
    """Block until the Voila server at ``root_url`` (``http://host:port/base_url/``) serves its static files.

    Raises RuntimeError when ``proc`` (the server's Popen) ends first, TimeoutError after ``timeout`` seconds;
    both carry the end of ``log_path`` when given.
    """
    import time
    import urllib.request

    def tail() -> str:
        return Path(log_path).read_text(errors="replace")[-3000:] if log_path else ""

    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"voila exited with {proc.returncode}: {tail()}")
        try:
            urllib.request.urlopen(f"{root_url.rstrip('/')}/voila/static/voila.js", timeout=5).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"voila at {root_url} did not answer within {timeout:.0f} s: {tail()}") from None
            time.sleep(0.2)


def stop_server(proc, timeout: float = 20) -> None:
    """Stop a server started in its own process group (``start_new_session=True``): SIGTERM, then SIGKILL.

    The whole group goes, so the kernels a Voila server started do not outlive it.
    """
    import signal

    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def add_arguments(ap: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The options of ``casework serve`` (shared by the ``casework`` command and ``python -m casework.serve``)."""
    ap.add_argument("--host", metavar="HOST", default=os.environ.get("HOST", "127.0.0.1"),
                    help="address to listen on (default 127.0.0.1; any other needs a token)")
    ap.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8866)), help="port (default 8866)")
    ap.add_argument("--base-url", metavar="PREFIX", default=os.environ.get("CASEWORK_BASE_URL", "/"),
                    help="URL prefix behind a reverse proxy, e.g. /boards/ (default /)")
    ap.add_argument("--token", metavar="TOKEN", default=os.environ.get("CASEWORK_VOILA_TOKEN"),
                    help="access token (default $CASEWORK_VOILA_TOKEN; generated when serving beyond loopback)")
    ap.add_argument("--data", type=Path, metavar="DIR", default=None,
                    help="folder of the datasets (default $CASEWORK_DATA or ./data)")
    ap.add_argument("--dashboards", type=Path, metavar="DIR", default=None,
                    help="folder of the dashboards (default ./dashboards, else the ones shipped with casework)")
    ap.add_argument("--pool-size", type=int, metavar="N", default=1, help="preheated kernels per dashboard (default 1)")
    ap.add_argument("--no-preheat", action="store_true", help="start each page's kernel on request")
    return ap


def serve(args: argparse.Namespace) -> int:
    """Run Voila in the foreground with the options of :func:`add_arguments`; returns its exit code."""
    if args.host not in _LOOPBACK and not args.token:
        args.token = secrets.token_urlsafe(24)
        print(f"Serving on {args.host}: a token is required; generated one (shown once): {args.token}")
    dashboards = (args.dashboards or paths.dashboards_dir()).resolve()
    if not (dashboards / "index.ipynb").is_file():
        raise FileNotFoundError(f"{dashboards}: no dashboards folder (index.ipynb missing)")
    jp = prepare_template()
    cmd = voila_command(dashboards, host=args.host, port=args.port, base_url=args.base_url, token=args.token,
                        pool_size=args.pool_size, preheat=not args.no_preheat)
    url = f"http://{args.host}:{args.port}{args.base_url}voila/render/index.ipynb"
    print(f"Dashboards: {url}\nAnalysts: make lab (JupyterLab on 127.0.0.1)", flush=True)
    return subprocess.call(cmd, env=voila_env(jp, args.data, dashboards), cwd=dashboards)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="casework serve", description="Serve the board dashboards with Voila.")
    return serve(add_arguments(ap).parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
