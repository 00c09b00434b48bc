"""The board dashboards in a real browser: Voila on loopback, Debian's Chromium driven by Playwright.

For each dashboard: it opens; the KPI tiles show what casework.kpi computes
directly; changing a filter changes the figures (and they match again); no
console or page errors; no request to a non-local host; no count under the
threshold visible; no source code or traceback visible. Screenshots go to
artifacts/screenshots/ (git-ignored).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from pathlib import Path
from urllib.parse import urlparse

import pytest

from casework import fmt, kpi, privacy
from casework.serve import (
    BOARD_EXTENSIONS,
    DASHBOARDS,
    free_port,
    prepare_template,
    voila_command,
    voila_env,
    wait_until_serving,
)
from casework.store import Dataset

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROME_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run", "--disable-quic"]
LOAD_MS = 120_000


def _is_local(url: str) -> bool:
    u = urlparse(url)
    return u.scheme in ("data", "blob", "about") or u.hostname in ("127.0.0.1", "localhost", "::1")


_SERVER_LOG = {}


@pytest.fixture(scope="module")
def server(board_data, tmp_path_factory):
    psutil = pytest.importorskip("psutil")
    port = free_port()
    jp = prepare_template(tmp_path_factory.mktemp("jupyter"))
    log_path = tmp_path_factory.mktemp("voila") / "voila.log"
    _SERVER_LOG["path"] = log_path
    log = open(log_path, "w")
    proc = subprocess.Popen(voila_command(DASHBOARDS, port=port, pool_size=1), env=voila_env(jp, board_data),
                            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until_serving(f"http://127.0.0.1:{port}/", proc=proc, timeout=90, log_path=log_path)
    except TimeoutError:
        proc.kill()
        raise
    yield f"http://127.0.0.1:{port}/voila/render/"
    children = psutil.Process(proc.pid).children(recursive=True)
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    _, alive = psutil.wait_procs(children, timeout=10)
    for p in alive:
        p.kill()
    log.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROME_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, request):
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    external, errors = [], []

    def block(route):
        external.append(route.request.url)
        route.abort()

    ctx.route(lambda url: not _is_local(url), block)
    pg = ctx.new_page()
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
    extensions = set()
    pg.on("request", lambda r: extensions.add(_extension_name(r.url)) if "/labextensions/" in r.url else None)
    pg.external_requests, pg.page_errors, pg.extensions = external, errors, extensions
    yield pg
    SHOTS.mkdir(parents=True, exist_ok=True)
    pg.set_viewport_size({"width": 1280, "height": 3600})  # Voila scrolls inside the page: make it all visible
    pg.wait_for_timeout(500)
    pg.screenshot(path=str(SHOTS / f"{request.node.name}.png"))
    ctx.close()


def _extension_name(url: str) -> str:
    parts = url.split("/labextensions/", 1)[1].split("/")
    return "/".join(parts[:2]) if parts[0].startswith("@") else parts[0]


def _open(page, url):
    from playwright.sync_api import expect

    page.goto(url, wait_until="commit", timeout=LOAD_MS)
    expect(page.locator("#loading")).to_have_count(0, timeout=LOAD_MS)
    # the page shows its title at once and builds the board right after (casework.boards.page)
    expect(page.locator(".cw-board").first).to_be_visible(timeout=LOAD_MS)
    expect(page.locator("[data-loading]")).to_have_count(0, timeout=LOAD_MS)


def _select(page, label: str, option: str):
    page.locator(".widget-dropdown").filter(has_text=label).locator("select").select_option(label=option)


def _tile(page, key: str) -> str:
    return page.locator(f"[data-kpi='{key}'] .cw-value").inner_text().strip()


def _data_layer(board_data, board: str, **state) -> dict:
    """The tiles the board's own code shows for a filter state (without a browser)."""
    from casework.boards.app import BOARDS as SPECS
    from casework.boards.app import Board
    from casework.boards.results import BoardData

    b = Board(SPECS[board], ds=BoardData.open(board_data / SPECS[board].dataset))
    b.set_filters(**state)
    return dict(zip(b.view["tiles"]["kennzahl"], b.view["tiles"]["wert"]))


def _expected(ds, board_data, board: str, year: int, filters: dict) -> dict:
    """What the tiles must show: the protected figures of the data layer, which lie within the perturbation's
    maximum of what casework.kpi computes directly (or are hidden exactly when that is under the threshold)."""
    kf = kpi.key_figures(ds, f"{year}-01-01", f"{year}-12-01", filters).set_index("kpi")["value"]
    tiles = _data_layer(board_data, board, period=str(year), **filters)
    # with a sex filter the board also counts the persons with "divers"/no entry assigned to that sex
    assigned = int((~ds.table("persons")["sex"].isin(["f", "m"])).sum()) if "sex" in filters else 0
    # Langzeitarbeitslose (issue 16): the stock on the period's last day, where the data have unemployment spells
    for key, exact in (("integrations", kf["integrations"]), ("avg_stock", round(kf["avg_stock"])),
                       ("lza", kf["lza"])):
        shown = tiles[key]
        if shown.startswith("<"):
            assert 0 < exact < privacy.threshold(), (key, shown, exact)
        else:
            assert 0 <= int(shown.replace(".", "")) - exact + privacy.MAX_PERTURBATION <= \
                2 * privacy.MAX_PERTURBATION + assigned, (key, shown, exact)
    return {k: tiles[k] for k in ("k2", "integrations", "avg_stock", "k3e1", "lza")}


def _assert_clean(page):
    text = page.locator("body").inner_text()
    for bad in ("Traceback", "import casework", "board_page(", "index_page(", "Error", "boardpage"):
        assert bad not in text, f"{bad!r} visible on the page"
    cells = page.locator(".cw-people, td").all_inner_texts()  # values that count persons, and every table cell
    small = [c for c in cells if re.fullmatch(r"\d{1,2}", c.strip()) and 0 < int(c.strip()) < privacy.threshold()]
    assert not small, f"counts under the threshold visible: {small}"
    assert page.external_requests == [], page.external_requests
    assert page.page_errors == [], page.page_errors
    assert page.extensions and page.extensions <= set(BOARD_EXTENSIONS), page.extensions  # no analyst extensions


BOARDS = [("pankow", "pankow", 2021, {"jc_id": "JC-BE-PAN"}),
          ("gelsenkirchen", "gelsenkirchen", 2017, {}),
          ("teilhabe_nrw", "nrw_teilhabe", 2017, {})]


@pytest.mark.parametrize("board, dataset, year, base", BOARDS, ids=[b[0] for b in BOARDS])
def test_board_shows_kpis_and_reacts_to_filters(server, board_data, page, board, dataset, year, base):
    from playwright.sync_api import expect

    ds = Dataset.open(board_data / dataset, verify=False)
    _open(page, server + f"{board}.ipynb")
    expect(page.locator("[data-kpi='k2'] .cw-value")).to_be_visible(timeout=60_000)
    _select(page, "Zeitraum", f"Jahr {year}")
    expected = _expected(ds, board_data, board, year, base)
    for key, value in expected.items():
        expect(page.locator(f"[data-kpi='{key}'] .cw-value")).to_have_text(value, timeout=30_000)
    if board == "gelsenkirchen":  # the caseload in care on the period's last day (seed 004), beside the facts
        from casework.boards.build import project_facts

        care = project_facts(ds, "abcaktiv", stand=f"{year}-12-31").set_index("fact").loc["caseload", "value"]
        shown = _data_layer(board_data, board, period=str(year), **base)["caseload"]
        assert abs(int(shown.replace(".", "")) - care) <= privacy.MAX_PERTURBATION
        expect(page.locator("[data-kpi='caseload'] .cw-value")).to_have_text(shown)
        assert f"31.12.{year}" in page.locator("[data-kpi='caseload']").inner_text()
    expect(page.locator("svg.cw-chart").first).to_be_visible(timeout=30_000)
    assert page.locator("[data-privacy='1']").is_visible()
    assert "Datenstand:" in page.locator("[data-stand='1']").inner_text()
    glossary = page.locator("[data-glossary='1']")  # issue 16: each figure with its code, name and definition
    for code in ("K2", "K3E1", "K3", "K1E2"):
        expect(glossary.locator("td", has_text=re.compile(f"^{code}$"))).to_have_count(1)
    assert "Langzeitarbeitslose" in glossary.inner_text() and "eigene Berechnung" in glossary.inner_text()

    before = _tile(page, "integrations")
    _select(page, "Geschlecht", "weiblich")
    women = _expected(ds, board_data, board, year, {**base, "sex": "f"})
    expect(page.locator("[data-kpi='integrations'] .cw-value")).to_have_text(women["integrations"], timeout=30_000)
    assert _tile(page, "integrations") != before
    for key, value in women.items():
        assert _tile(page, key) == value, key
    page.get_by_role("button", name="Export erstellen").click()
    expect(page.locator("[data-export='1'] a")).to_have_count(3, timeout=30_000)
    _assert_clean(page)


def test_effect_panel_shows_german_sentences(server, board_data, page):
    from playwright.sync_api import expect

    _open(page, server + "gelsenkirchen.ipynb")
    sentence = page.locator(".cw-sentence[data-measure]").first
    expect(sentence).to_be_visible(timeout=60_000)
    text = sentence.inner_text()
    assert text.startswith("Die Teilnahme") and "95-%-Intervall" in text
    effects = Dataset.open(board_data / "gelsenkirchen", verify=False).result("effects")
    assert any(s == text for s in effects["sentence"])
    # issue 16: another outcome chosen, the panel shows its stored estimates (and only those)
    for outcome in ("receipt_end_12m", "unemployment_exit_12m"):
        label = effects.loc[effects["outcome"] == outcome, "outcome_label"].iloc[0]
        _select(page, "Ergebnis", label)
        panel = page.locator(f"[data-outcome='{outcome}']")
        expect(panel).to_be_visible(timeout=30_000)
        rows = effects[(effects["outcome"] == outcome) & (effects["n_treated"] >= privacy.threshold())
                       & effects["estimate"].notna()]
        shown = panel.locator(".cw-sentence[data-measure]")
        expect(shown).to_have_count(len(rows), timeout=30_000)
        stored = dict(zip(rows["measure"], rows["sentence"]))
        for i in range(len(rows)):
            item = shown.nth(i)
            assert item.inner_text() == stored[item.get_attribute("data-measure")]
    _assert_clean(page)


def test_did_panel_states_uncertainty(server, page):
    from playwright.sync_api import expect

    _open(page, server + "pankow.ipynb")
    did = page.locator("[data-did='1']")
    expect(did).to_be_visible(timeout=60_000)
    text = did.inner_text()
    assert "nur einem Projektjobcenter" in text
    # one project jobcenter of eight: no p-value below 1/8, so the board says so instead of a 95 % interval
    assert "ein 95-%-Intervall ist deshalb nicht möglich, angegeben ist das 87,5-%-Intervall" in text


def test_index_lists_every_project(server, board_data, page):
    from playwright.sync_api import expect

    _open(page, server + "index.ipynb")
    cards = page.locator(".cw-card")
    expect(cards).to_have_count(3, timeout=60_000)
    persons = len(Dataset.open(board_data / "pankow", verify=False).table("persons"))
    assert fmt.number(persons) in page.locator("[data-persons='pankow']").inner_text()
    _assert_clean(page)


def test_board_kernels_talk_over_encrypted_channels(server, page):
    import zmq

    if not zmq.has("curve"):
        pytest.skip("pyzmq without CurveZMQ: kernels fall back to plain loopback TCP")
    _open(page, server + "pankow.ipynb")
    page.locator("[data-kpi='integrations'] .cw-value").first.wait_for(state="visible", timeout=60_000)
    log = _SERVER_LOG["path"].read_text(errors="replace")
    # kernels were started while this log was written, and their stderr goes to it (ipykernel's warning for a
    # plain-TCP kernel showed up here before the setting)
    assert "Kernel started" in log
    assert "without encryption" not in log


def _kernel_process(kernel_id: str):
    import psutil

    for proc in psutil.process_iter(["cmdline"]):
        if any(kernel_id in part for part in proc.info["cmdline"] or []):
            return proc
    raise LookupError(f"no kernel process for {kernel_id}")


def test_killed_kernel_is_reported_in_german_and_reload_works(server, page):
    import json

    from playwright.sync_api import expect

    _open(page, server + "pankow.ipynb")
    expect(page.locator("[data-kpi='k2'] .cw-value")).to_be_visible(timeout=60_000)
    assert page.locator("#cw-kernel-lost").count() == 0
    kernel_id = json.loads(page.locator("#jupyter-config-data").text_content())["kernelId"]
    _kernel_process(kernel_id).kill()
    banner = page.locator("#cw-kernel-lost")
    expect(banner).to_be_visible(timeout=30_000)
    assert "Sitzung dieser Seite wurde unterbrochen" in banner.inner_text()
    assert "Traceback" not in page.locator("body").inner_text()
    page.get_by_role("button", name="Seite neu laden").click()
    expect(page.locator("[data-kpi='k2'] .cw-value")).to_be_visible(timeout=60_000)
    expect(page.locator("#cw-kernel-lost")).to_have_count(0)
    _select(page, "Geschlecht", "weiblich")  # the new kernel answers
    expect(page.locator("[data-kpi='k2'] .cw-value")).to_be_visible()
    assert page.external_requests == []


def test_attack_states_in_the_browser_show_the_data_layers_figures(server, board_data, page):
    """A sample of the differencing attack's filter states (tests/privacy_attack.py) in a real browser: the page
    shows exactly the data layer's protected figures, so the attack run on the data layer is the attack on the
    page; and the complement over the age groups pins down no hidden count."""
    from playwright.sync_api import expect

    from casework.boards.app import BOARDS as SPECS
    from casework.boards.app import Board
    from casework.boards.results import BoardData
    from tests.privacy_attack import Attack

    year = 2017
    _open(page, server + "gelsenkirchen.ipynb")
    expect(page.locator("[data-kpi='k2'] .cw-value")).to_be_visible(timeout=60_000)
    _select(page, "Zeitraum", f"Jahr {year}")
    for group in ["alle", "unter 25", "25 bis 34", "35 bis 49", "50 und älter"]:
        want = _data_layer(board_data, "gelsenkirchen", period=str(year), age_group=group)
        _select(page, "Altersgruppe", group)
        for key in ("integrations", "avg_stock", "need_ending", "k2"):
            expect(page.locator(f"[data-kpi='{key}'] .cw-value")).to_have_text(want[key], timeout=30_000)
    board = Board(SPECS["gelsenkirchen"], ds=BoardData.open(board_data / "gelsenkirchen"))
    attack = Attack(board)
    attack.complements({k: w.value for k, w in board.filters.items()} | {"period": str(year)})
    assert attack.report()["determined"] == 0, attack.report()
    _assert_clean(page)


# ---------------------------------------------------------------- accessibility (BITV 2.0 / WCAG 2.1 AA)
AXE = ROOT / "artifacts" / "axe" / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture(scope="module")
def axe_script():
    """axe-core from the npm registry (make axe; installed here when missing), injected into each page."""
    if not AXE.exists():
        if shutil.which("npm") is None:
            pytest.skip("npm is not installed: `make axe` installs axe-core for the accessibility tests")
        subprocess.run(["make", "-s", "-C", str(ROOT), "-o", ".venv/.installed", "axe"], check=True)
    return AXE.read_text(encoding="utf-8")


# BITV 2.0 requires WCAG 2.1 A and AA: the rules with those tags (axe's best practices, such as "every part of
# the page inside a landmark", are advice beyond it; Voila's page template has no landmarks)
_AXE_RUN = """async () => {
  const r = await axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}});
  return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                 nodes: v.nodes.slice(0, 5).map(n => n.target.join(' '))}));
}"""


@pytest.mark.parametrize("board", ["index", "pankow", "gelsenkirchen", "teilhabe_nrw"])
def test_no_accessibility_violations(server, board_data, page, axe_script, board):
    from playwright.sync_api import expect

    _open(page, server + f"{board}.ipynb")
    ready = ".cw-card" if board == "index" else "[data-kpi='k2'] .cw-value"
    expect(page.locator(ready).first).to_be_visible(timeout=60_000)
    if board != "index":
        page.get_by_role("button", name="Export erstellen").click()
        expect(page.locator("[data-export='1'] a")).to_have_count(3, timeout=30_000)
    page.add_script_tag(content=axe_script)
    violations = page.evaluate(_AXE_RUN)
    assert violations == [], violations


def _tab_to(page, predicate_js: str, limit: int = 60) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"() => {{ const e = document.activeElement; return !!e && ({predicate_js}); }}"):
            return
    raise AssertionError(f"no element matching {predicate_js} reached with Tab")


def test_filters_and_export_by_keyboard_only(server, board_data, page):
    from playwright.sync_api import expect

    _open(page, server + "pankow.ipynb")
    expect(page.locator("[data-kpi='integrations'] .cw-value")).to_be_visible(timeout=60_000)
    before = _tile(page, "integrations")
    page.locator("body").click(position={"x": 5, "y": 5})  # start from the top of the page, then keys only
    _tab_to(page, "e.tagName === 'SELECT' && e.closest('.widget-dropdown').innerText.includes('Geschlecht')")
    page.keyboard.press("ArrowDown")  # the next option: weiblich
    expect(page.locator("[data-kpi='integrations'] .cw-value")).not_to_have_text(before, timeout=30_000)
    _tab_to(page, "e.tagName === 'BUTTON' && e.innerText.includes('Export erstellen')")
    page.keyboard.press("Enter")
    expect(page.locator("[data-export='1'] a")).to_have_count(3, timeout=30_000)
    _tab_to(page, "e.tagName === 'A' && e.hasAttribute('download')")
    assert page.evaluate("() => document.activeElement.getAttribute('download')").endswith(".xlsx")
