// casework: tell the viewer in German when the page's kernel is gone (killed, restarted, culled),
// instead of leaving filters that silently stop working. Watches the kernel's websocket only.
(function () {
  "use strict";
  var NativeWebSocket = window.WebSocket;
  var unloading = false;
  var shown = false;
  var LOST = /"execution_state"\s*:\s*"(restarting|autorestarting|dead)"/;
  window.addEventListener("beforeunload", function () { unloading = true; });

  function showBanner() {
    if (shown || unloading) { return; }
    shown = true;
    var render = function () {
      var box = document.createElement("div");
      box.id = "cw-kernel-lost";
      box.setAttribute("role", "alert");
      box.style.cssText = "position:fixed;top:0;left:0;right:0;z-index:10000;padding:12px 16px;" +
        "background:#fff3cd;color:#332600;border-bottom:3px solid #8a6d00;font:16px/1.4 sans-serif";
      box.textContent = "Die Sitzung dieser Seite wurde unterbrochen: Die Filter wirken nicht mehr. " +
        "Die angezeigten Zahlen bleiben gültig. Bitte laden Sie die Seite neu. ";
      var button = document.createElement("button");
      button.type = "button";
      button.textContent = "Seite neu laden";
      button.style.cssText = "font:inherit;margin-left:8px";
      button.addEventListener("click", function () { window.location.reload(); });
      box.appendChild(button);
      document.body.appendChild(box);
    };
    if (document.body) { render(); } else { document.addEventListener("DOMContentLoaded", render); }
  }

  function inspect(data) {
    if (typeof data === "string") {
      if (LOST.test(data)) { showBanner(); }
    } else if (data instanceof ArrayBuffer) {
      if (LOST.test(new TextDecoder().decode(data))) { showBanner(); }
    } else if (data && typeof data.text === "function") {
      data.text().then(function (t) { if (LOST.test(t)) { showBanner(); } });
    }
  }

  function WatchedWebSocket(url, protocols) {
    var ws = protocols === undefined ? new NativeWebSocket(url) : new NativeWebSocket(url, protocols);
    if (String(url).indexOf("/channels") !== -1) {
      ws.addEventListener("message", function (event) { inspect(event.data); });
      ws.addEventListener("close", function () { window.setTimeout(showBanner, 250); });
    }
    return ws;
  }
  WatchedWebSocket.prototype = NativeWebSocket.prototype;
  ["CONNECTING", "OPEN", "CLOSING", "CLOSED"].forEach(function (k) { WatchedWebSocket[k] = NativeWebSocket[k]; });
  window.WebSocket = WatchedWebSocket;
})();
