#!/usr/bin/env python3
"""Screenshots of the main screens for README, taken from a running demo.

    scripts/demo.sh                     # in another terminal, then:
    nice -n 15 python3 scripts/screenshots.py [--url URL] [--db DB] [--out DIR]

Logs in to the demo server (admin, password admin), drives headless Chromium
(Debian's chromium package, the browser of the tours) over the DevTools
protocol and writes one PNG per screen into docs/screenshots/, the Chinese
ones after installing Chinese in the demo database (and a Chinese font on this
machine: Debian's fonts-noto-cjk). The web client does the
rendering: the script only opens URLs, clicks a tab and waits for elements.
"""

import argparse
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
import websocket

REPO = Path(__file__).resolve().parent.parent
BROWSERS = ("google-chrome", "chromium", "chromium-browser", "google-chrome-stable")
WIDTH = 1366
MAX_BYTES = 300_000
ACTION = "/odoo/action-customer_segmentation."
# A demo customer with orders, a pin and contacts at several levels.
FORM_CUSTOMER = "res_partner_huasheng_demo"
SEGMENTATION_TAB = "a.nav-link[name='customer_segmentation']"

# (file name, language, path, CSS selector to wait for, selector to click
# then, selector to scroll to the top then, window height): the main screens,
# in the order README shows them.
SHOTS = (
    (
        "overview.png",
        "en_US",
        ACTION + "customer_segmentation_overview_action",
        ".o_dashboard .o_pivot_cell_value",
        None,
        None,
        900,
    ),
    (
        "kanban_value_tiers.png",
        "en_US",
        ACTION + "res_partner_action_customers",
        ".o_kanban_grouped .o_kanban_record",
        None,
        None,
        768,
    ),
    (
        "customer_explanation.png",
        "en_US",
        ACTION + "res_partner_action_customers/{customer}",
        SEGMENTATION_TAB,
        SEGMENTATION_TAB,
        ".o_notebook",
        1150,
    ),
    (
        "churn_risk.png",
        "en_US",
        ACTION + "res_partner_action_churn_risk",
        ".o_list_view .o_data_row",
        None,
        None,
        768,
    ),
    (
        "rfm_segments_zh_CN.png",
        "zh_CN",
        ACTION + "res_partner_action_customers_rfm",
        ".o_list_view .o_group_header",
        None,
        None,
        768,
    ),
)


class Server:
    """A JSON-RPC session on the Odoo server."""

    def __init__(self, url, db, login, password):
        self.url = url.rstrip("/")
        self.session = requests.Session()
        self.uid = self._call(
            "/web/session/authenticate",
            {"db": db, "login": login, "password": password},
        )["uid"]

    def _call(self, path, params):
        response = self.session.post(
            self.url + path,
            json={"jsonrpc": "2.0", "method": "call", "params": params},
            timeout=600,
        )
        response.raise_for_status()
        answer = response.json()
        if "error" in answer:
            sys.exit(f"screenshots.py: {path}: {answer['error']['data']['message']}")
        return answer["result"]

    def call(self, model, method, *args, **kwargs):
        return self._call(
            f"/web/dataset/call_kw/{model}/{method}",
            {"model": model, "method": method, "args": args, "kwargs": kwargs},
        )

    @property
    def session_id(self):
        return self.session.cookies["session_id"]

    def xmlid_res_id(self, module, name):
        rows = self.call(
            "ir.model.data",
            "search_read",
            [("module", "=", module), ("name", "=", name)],
            ["res_id"],
        )
        if not rows:
            sys.exit(f"screenshots.py: no {module}.{name}: is this the demo database?")
        return rows[0]["res_id"]

    def set_language(self, code):
        """Install ``code`` if needed and make it the user's language."""
        langs = self.call(
            "res.lang",
            "search_read",
            [("code", "=", code)],
            ["active"],
            context={"active_test": False},
        )
        if not langs[0]["active"]:
            print(f"installing {code} in the database ...")
            wizard = self.call(
                "base.language.install",
                "create",
                {"lang_ids": [(6, 0, [langs[0]["id"]])]},
            )
            self.call("base.language.install", "lang_install", [wizard])
        self.call("res.users", "write", [self.uid], {"lang": code})


class Browser:
    """Headless Chromium driven over the DevTools protocol."""

    def __init__(self):
        executable = next(filter(None, map(shutil.which, BROWSERS)), None)
        if not executable:
            sys.exit("screenshots.py: no Chrome or Chromium (apt-get install chromium)")
        self.profile = tempfile.mkdtemp(prefix="cs_screenshots_")
        self.process = subprocess.Popen(
            [
                executable,
                "--headless=new",
                "--no-sandbox",
                "--no-first-run",
                "--disable-gpu",
                "--hide-scrollbars",
                "--remote-debugging-port=0",
                f"--user-data-dir={self.profile}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        port = None
        for line in self.process.stderr:
            match = re.search(r"DevTools listening on ws://[^:]+:(\d+)/", line)
            if match:
                port = match[1]
                break
        if not port:
            sys.exit("screenshots.py: the browser did not start")
        targets = requests.get(f"http://127.0.0.1:{port}/json", timeout=30).json()
        page = next(t for t in targets if t["type"] == "page")
        self.ws = websocket.create_connection(
            page["webSocketDebuggerUrl"], suppress_origin=True, timeout=60
        )
        self.ids = iter(range(1, 1_000_000))

    def send(self, method, **params):
        request_id = next(self.ids)
        self.ws.send(json.dumps({"id": request_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == request_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def evaluate(self, expression):
        return self.send("Runtime.evaluate", expression=expression, returnByValue=True)[
            "result"
        ].get("value")

    def wait_for(self, selector, timeout=120):
        """Wait for ``selector`` in the page, its style sheets loaded."""
        deadline = time.monotonic() + timeout
        check = (
            "document.readyState === 'complete' && "
            f"!!document.querySelector({json.dumps(selector)})"
        )
        while not self.evaluate(check):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{selector} did not appear within {timeout} s")
            time.sleep(0.5)

    def close(self):
        self.ws.close()
        self.process.terminate()
        self.process.wait(timeout=30)
        shutil.rmtree(self.profile, ignore_errors=True)


def take(browser, server, shot, out):
    name, _lang, path, ready, click, scroll, height = shot
    browser.send(
        "Emulation.setDeviceMetricsOverride",
        width=WIDTH,
        height=height,
        deviceScaleFactor=1,
        mobile=False,
    )
    customer = server.xmlid_res_id("customer_segmentation", FORM_CUSTOMER)
    browser.send("Page.navigate", url=server.url + path.format(customer=customer))
    browser.wait_for(ready)
    if click:
        browser.evaluate(f"document.querySelector({json.dumps(click)}).click()")
    if scroll:
        browser.evaluate(
            f"document.querySelector({json.dumps(scroll)}).scrollIntoView(true)"
        )
    # graphs animate and kanban columns load their records one after another
    time.sleep(3)
    data = base64.b64decode(
        browser.send("Page.captureScreenshot", format="png")["data"]
    )
    (out / name).write_bytes(data)
    size = len(data)
    warning = f" (over {MAX_BYTES // 1000} KB)" if size > MAX_BYTES else ""
    print(f"{out / name}: {size // 1000} KB{warning}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--url", default=f"http://127.0.0.1:{os.environ.get('CS_DEMO_PORT', '8069')}"
    )
    parser.add_argument("--db", default="customer_segmentation_demo")
    parser.add_argument("--login", default="admin")
    parser.add_argument("--password", default="admin")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    langs = list(dict.fromkeys(shot[1] for shot in SHOTS))
    if (
        "zh_CN" in langs
        and not subprocess.run(
            ["fc-list", ":lang=zh"], capture_output=True, text=True, check=False
        ).stdout.strip()
    ):
        sys.exit(
            "screenshots.py: no Chinese font: the Chinese screens would show boxes "
            "(apt-get install fonts-noto-cjk)"
        )
    server = Server(args.url, args.db, args.login, args.password)
    original_lang = server.call("res.users", "read", [server.uid], ["lang"])[0]["lang"]
    browser = Browser()
    try:
        for lang in langs:
            server.set_language(lang)
            browser.send(
                "Network.setCookie",
                name="session_id",
                value=server.session_id,
                url=server.url,
            )
            for shot in SHOTS:
                if shot[1] == lang:
                    take(browser, server, shot, args.out)
    finally:
        browser.close()
        server.call("res.users", "write", [server.uid], {"lang": original_lang})


if __name__ == "__main__":
    main()
