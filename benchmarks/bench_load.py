"""Load: concurrent board sessions against one Voila server on loopback, then kernel reclamation.

Run: python benchmarks/bench_load.py [--sessions 20] [--board pankow] [--data data] [--quick]
Starts the project's Voila server (casework.serve settings, preheating off so every session starts its own
kernel, idle culling shortened to 150 s for the measurement), opens N fresh Chromium contexts at once, measures
each time-to-interactive (KPI tile visible), closes them, and waits for the idle kernels to be culled. Prints
median and p95, the number of sessions that rendered, the kernels alive at the peak and after culling, and the
server's memory (RSS of the Voila process) before, at the peak and after. --quick: 4 sessions on small data.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
#: Idle culling for the measurement (the server's default is 600 s): longer than a render under full load takes.
CULL_S = 150
CHROME_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run", "--disable-quic"]


async def _session(browser, url: str) -> float | None:
    ctx = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await ctx.new_page()
    t0 = time.perf_counter()
    try:
        await page.goto(url, wait_until="commit", timeout=300_000)
        await page.locator("[data-kpi='k2'] .cw-value").first.wait_for(state="visible", timeout=300_000)
        return time.perf_counter() - t0
    except Exception:
        return None
    finally:
        await ctx.close()


async def _run(url: str, n: int) -> list[float | None]:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROME_ARGS)
        times = await asyncio.gather(*[_session(browser, url) for _ in range(n)])
        await browser.close()
    return list(times)


def _record(n, board, ok, p95, alive, rss0, rss_after):
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _records import record

    record("bench_load.py", f"{n} concurrent '{board}' sessions rendered", len(ok), "sessions",
           target=f"{n} of {n}", met=len(ok) == n)
    if ok:
        record("bench_load.py", f"{n} sessions: time-to-interactive median", statistics.median(ok), "s")
        record("bench_load.py", f"{n} sessions: time-to-interactive p95", p95, "s")
    record("bench_load.py", "kernels alive after idle culling", alive, "kernels", target="0", met=alive == 0)
    record("bench_load.py", "Voila server memory after culling", rss_after, "MB", ref="before the sessions",
           ref_value=rss0, target="within 150 MB of the start", met=rss_after - rss0 < 150)


def main(argv=None) -> int:
    import psutil

    from casework.serve import (
        DASHBOARDS,
        free_port,
        prepare_template,
        stop_server,
        voila_command,
        voila_env,
        wait_until_serving,
    )

    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--board", default="pankow")
    ap.add_argument("--data", default=str(ROOT / "data"))
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    data = Path(args.data)
    n = args.sessions
    if args.quick:
        from tests.board_data import prepare

        data, n = prepare(Path(tempfile.mkdtemp()) / "data"), 4
    port = free_port()
    cmd = voila_command(DASHBOARDS, port=port, preheat=False)
    cmd = [c for c in cmd if "cull" not in c] + [f"--MappingKernelManager.cull_idle_timeout={CULL_S}",
                                                 "--MappingKernelManager.cull_interval=10"]
    log_path = Path(tempfile.mkdtemp()) / "voila.log"
    log = open(log_path, "w")
    proc = subprocess.Popen(cmd, env=voila_env(prepare_template(Path(tempfile.mkdtemp())), data), cwd=ROOT,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    server = psutil.Process(proc.pid)
    try:
        wait_until_serving(f"http://127.0.0.1:{port}/", proc=proc, timeout=120, log_path=log_path)
        rss0 = server.memory_info().rss / 2**20
        times = asyncio.run(_run(f"http://127.0.0.1:{port}/voila/render/{args.board}.ipynb", n))
        kernels_peak = len([c for c in server.children(recursive=True) if "ipykernel" in " ".join(c.cmdline())])
        rss_peak = server.memory_info().rss / 2**20
        deadline = time.monotonic() + CULL_S + 120
        while time.monotonic() < deadline:
            alive = [c for c in server.children(recursive=True) if "ipykernel" in " ".join(c.cmdline())]
            if not alive:
                break
            time.sleep(5)
        rss_after = server.memory_info().rss / 2**20
    finally:
        stop_server(proc)
    log.close()
    errors = [line for line in log_path.read_text(errors="replace").splitlines() if "[E " in line]
    ok = sorted(t for t in times if t is not None)
    p95 = ok[min(len(ok) - 1, int(round(0.95 * (len(ok) - 1))))] if ok else float("nan")
    print(f"Load: {n} concurrent sessions of '{args.board}' against one Voila server (loopback, 2 cores), "
          f"browser contexts on the same machine")
    print(f"rendered {len(ok)} of {n}; time-to-interactive median {statistics.median(ok):.1f} s, p95 {p95:.1f} s"
          if ok else f"rendered 0 of {n}")
    print(f"kernels alive right after the sessions: {kernels_peak}; after idle culling ({CULL_S} s): {len(alive)}")
    print(f"server RSS: {rss0:.0f} MB before, {rss_peak:.0f} MB at the peak, {rss_after:.0f} MB after culling "
          f"(bound stated in docs/security.md: within 150 MB of the start)")
    _record(n, args.board, ok, p95, len(alive), rss0, rss_after)
    if errors:
        print(f"server errors ({len(errors)}), first: {errors[0][:300]}  (log: {log_path})")
    return 0 if len(ok) == n and not alive and rss_after - rss0 < 150 else 1


if __name__ == "__main__":
    sys.exit(main())
