"""The documented reverse-proxy setting: Voila under a base_url behind a proxy, with a token, in a real browser.

A small reverse proxy (Tornado, as nginx's ``location /boards/ { proxy_pass http://127.0.0.1:8866; }`` with
WebSocket upgrade) forwards HTTP and the kernels' WebSockets from its own port to the Voila server, which runs
with ``casework serve --base-url /boards/ --token …`` on loopback. The board opens through the proxy, its
filters work (the kernel's WebSocket passes), and without the token the proxy gets 403.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import threading
import urllib.error
import urllib.request

import pytest

from casework.serve import DASHBOARDS, free_port, prepare_template, voila_command, voila_env, wait_until_serving
from tests.test_dashboards import ROOT, _open, _select, browser, page  # noqa: F401

pytestmark = pytest.mark.browser

PREFIX = "/boards/"
TOKEN = "proxy-test-token-" + os.urandom(8).hex()


def _proxy_app(upstream: int):
    import tornado.httpclient
    import tornado.web
    import tornado.websocket

    http = tornado.httpclient.AsyncHTTPClient()
    hop = {"connection", "keep-alive", "transfer-encoding", "upgrade", "content-length", "content-encoding"}

    class Forward(tornado.web.RequestHandler):
        async def _forward(self):
            req = self.request
            headers = {k: v for k, v in req.headers.get_all() if k.lower() not in hop}  # as nginx: Host kept
            resp = await http.fetch(f"http://127.0.0.1:{upstream}{req.uri}", method=req.method, headers=headers,
                                    body=req.body if req.method in ("POST", "PUT", "PATCH") else None,
                                    raise_error=False, follow_redirects=False, request_timeout=300)
            self.set_status(resp.code, resp.reason)
            for k, v in resp.headers.get_all():
                if k.lower() not in hop:
                    self.add_header(k, v)
            if resp.body:
                self.write(resp.body)

        get = post = put = patch = delete = _forward

    class ForwardSocket(tornado.websocket.WebSocketHandler):
        async def open(self, *args):
            skip = {"sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions", "sec-websocket-protocol",
                    "upgrade", "connection"}
            headers = {k: v for k, v in self.request.headers.get_all() if k.lower() not in skip}  # cookie, host
            request = tornado.httpclient.HTTPRequest(f"ws://127.0.0.1:{upstream}{self.request.uri}", headers=headers)
            self.up = await tornado.websocket.websocket_connect(
                request, subprotocols=[p.strip() for p in self.request.headers.get("Sec-WebSocket-Protocol", "")
                                       .split(",") if p.strip()] or None)
            asyncio.ensure_future(self._pump())

        def select_subprotocol(self, subprotocols):
            return subprotocols[0] if subprotocols else None

        async def _pump(self):
            while True:
                msg = await self.up.read_message()
                if msg is None:
                    self.close()
                    return
                await self.write_message(msg, binary=isinstance(msg, bytes))

        async def on_message(self, message):
            await self.up.write_message(message, binary=isinstance(message, bytes))

        def on_close(self):
            if getattr(self, "up", None) is not None:
                self.up.close()

        def check_origin(self, origin):
            return True

    return tornado.web.Application([(r".*/channels.*", ForwardSocket), (r".*", Forward)])


@pytest.fixture(scope="module")
def proxied(board_data, tmp_path_factory):  # noqa: F811
    import tornado.httpserver
    import tornado.ioloop

    voila_port, proxy_port = free_port(), free_port()
    jp = prepare_template(tmp_path_factory.mktemp("jupyter-proxy"))
    log = open(tmp_path_factory.mktemp("voila-proxy") / "voila.log", "w")
    cmd = voila_command(DASHBOARDS, port=voila_port, base_url=PREFIX, token=TOKEN, preheat=False)
    proc = subprocess.Popen(cmd, env=voila_env(jp, board_data), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    loop_ready, holder = threading.Event(), {}

    def serve():
        asyncio.set_event_loop(asyncio.new_event_loop())
        server = tornado.httpserver.HTTPServer(_proxy_app(voila_port))
        server.listen(proxy_port, "127.0.0.1")
        holder["loop"] = tornado.ioloop.IOLoop.current()
        loop_ready.set()
        holder["loop"].start()

    threading.Thread(target=serve, daemon=True).start()
    loop_ready.wait(10)
    base = f"http://127.0.0.1:{proxy_port}{PREFIX}"
    wait_until_serving(base, proc=proc, timeout=90)  # through the proxy
    yield base
    holder["loop"].add_callback(holder["loop"].stop)
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=30)
    log.close()


def test_board_works_behind_the_proxy_with_token(proxied, page):  # noqa: F811
    from playwright.sync_api import expect

    _open(page, f"{proxied}voila/render/pankow.ipynb?token={TOKEN}")
    tile = page.locator("[data-kpi='integrations'] .cw-value")
    expect(tile).to_be_visible(timeout=90_000)
    before = tile.inner_text()
    _select(page, "Geschlecht", "weiblich")
    expect(tile).not_to_have_text(before, timeout=30_000)  # the kernel answered through the proxied WebSocket
    assert page.external_requests == []


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_proxy_without_token_is_refused(proxied):
    opener = urllib.request.build_opener(_NoRedirect)
    for path in ("voila/render/pankow.ipynb", "voila/render/index.ipynb", "voila/tree"):
        with pytest.raises(urllib.error.HTTPError) as err:
            opener.open(f"{proxied}{path}", timeout=60)
        assert err.value.code in (302, 401, 403), path  # 302: to the login form, never the board
        assert b"jupyter-config-data" not in err.value.read()
        if err.value.code == 302:
            assert "login" in err.value.headers["Location"]
    with pytest.raises(urllib.error.HTTPError):
        opener.open(f"{proxied}voila/render/pankow.ipynb?token=wrong-{TOKEN}", timeout=60)
