"""The HTML report in a real browser: headless Chromium, driven over the DevTools protocol.

How it works, and why this way: Chromium is started once for the module with
``--remote-debugging-pipe``, which makes it read DevTools commands on file descriptor 3 and
write answers and events on descriptor 4 (JSON messages ended by a NUL byte), so nothing
but the standard library is needed and no port is opened. For each report (one per task
type) the test opens a fresh tab with the Network domain enabled, loads the file:// URL,
waits for the load event, and then:

- lists every ``Network.requestWillBeSent``: the only request allowed is the report file
  itself (a control page with an external image and stylesheet proves that the recorder
  does see requests);
- asks the rendered DOM for the section ids, the plots (inline ``svg.plot`` with a real
  on-screen size), the top loss, scripts, and any element that points outside the page;
- checks the page does not scroll sideways on a 375 px wide screen (tables scroll inside
  their wrappers) and that the navigation is hidden in print media.

DNS is mapped to nowhere (``--host-resolver-rules``) and background networking is off, so
even a broken report could not reach the network while it is being checked.

Chromium: ``shutil.which("chromium")`` or ``/usr/bin/chromium`` (Debian's package; .ci/run
installs it). Without it the tests skip on a developer machine and FAIL in CI (``CI`` set).

The screenshot in docs/report-screenshot.png was taken from a real report of a bundled
example, copied to an empty folder so that the report names the file, not the folder it
is installed in::

    cp data/poor_health.csv . && advisor suggest poor_health.csv \\
        --metric balanced_accuracy --budget 120 --report report.html
    chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \\
        --window-size=1200,2400 --screenshot=docs/report-screenshot.png "file://$PWD/report.html"
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from advisor.report import SECTIONS, render_html

# The same cached runs as test_report.py (shared when both run in one session, whatever the
# import mode: the sibling module is found through this folder).
sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_report import CASE_IDS, CASES, real_dict  # noqa: E402

TIMEOUT = 30.0


def find_chromium() -> str | None:
    found = shutil.which("chromium")
    if found:
        return found
    return "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None


class DevTools:
    """A minimal DevTools-protocol client over Chromium's pipe (fd 3 in, fd 4 out)."""

    #: Puts the two pipe ends on descriptors 3 and 4 and execs Chromium. A tiny launcher
    #: process instead of ``preexec_fn``, which is unsafe once joblib has started threads.
    LAUNCHER = ("import fcntl, os, sys; "
                "ends = [fcntl.fcntl(int(fd), fcntl.F_DUPFD, 10) for fd in sys.argv[1:3]]; "
                "os.dup2(ends[0], 3); os.dup2(ends[1], 4); os.execv(sys.argv[3], sys.argv[3:])")

    def __init__(self, chromium: str, profile_dir: Path) -> None:
        command_read, self._command_write = os.pipe()
        self._answer_read, answer_write = os.pipe()
        self.process = subprocess.Popen(
            [sys.executable, "-c", self.LAUNCHER, str(command_read), str(answer_write), chromium,
             "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--disable-extensions", "--mute-audio", "--hide-scrollbars",
             "--host-resolver-rules=MAP * ~NOTFOUND", f"--user-data-dir={profile_dir}",
             "--remote-debugging-pipe", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            pass_fds=(command_read, answer_write))
        os.close(command_read)
        os.close(answer_write)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []

    def call(self, method: str, params: dict[str, Any] | None = None, *,
             session: str | None = None) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._command_write, json.dumps(message).encode() + b"\0")
        while True:
            answer = self._read()
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer["result"]
            self.events.append(answer)

    def wait_for(self, method: str, session: str) -> dict[str, Any]:
        while True:
            for event in self.events:
                if event.get("method") == method and event.get("sessionId") == session:
                    return event
            self.events.append(self._read())

    def evaluate(self, expression: str, session: str) -> Any:
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True},
                           session=session)
        return result["result"].get("value")

    def _read(self) -> dict[str, Any]:
        deadline = time.monotonic() + TIMEOUT
        while b"\0" not in self._buffer:
            ready, _, _ = select.select([self._answer_read], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise TimeoutError("Chromium did not answer over the DevTools pipe")
            chunk = os.read(self._answer_read, 1 << 16)
            if not chunk:
                raise EOFError(f"Chromium closed the DevTools pipe (exit {self.process.poll()})")
            self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        return json.loads(message)

    def open(self, url: str) -> tuple[str, list[str]]:
        """Load ``url`` in a new tab; return the tab's session and every URL it requested."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.call("Network.enable", session=session)
        self.call("Page.enable", session=session)
        self.call("Page.navigate", {"url": url}, session=session)
        self.wait_for("Page.loadEventFired", session)
        self.evaluate("document.readyState", session)      # flushes events queued before it
        requested = [event["params"]["request"]["url"] for event in self.events
                     if event.get("method") == "Network.requestWillBeSent"
                     and event.get("sessionId") == session]
        return session, requested

    def close(self) -> None:
        try:
            self.call("Browser.close")
        except (OSError, EOFError, TimeoutError, RuntimeError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._command_write)
        os.close(self._answer_read)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevTools]:
    chromium = find_chromium()
    if chromium is None:
        message = ("chromium is not installed: the HTML report cannot be checked in a browser "
                   "(apt-get install chromium)")
        if os.environ.get("CI"):
            pytest.fail(message + "; CI must install it (.ci/run does)", pytrace=False)
        pytest.skip(message)
    client = DevTools(chromium, tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield client
    finally:
        client.close()


# What the rendered page reports about itself (evaluated in the page after load).
INSPECT = """JSON.stringify({
  sections: [...document.querySelectorAll('main > section[id]')].map(s => s.id),
  plots: [...document.querySelectorAll('svg.plot')].map(svg => {
    const box = svg.getBoundingClientRect();
    return {width: Math.round(box.width), height: Math.round(box.height),
            texts: svg.querySelectorAll('text').length};
  }),
  topLoss: (document.querySelector('.top-loss') || {}).textContent,
  topLossId: (document.querySelector('.loss-id') || {}).textContent,
  scripts: document.querySelectorAll('script').length,
  handlers: [...document.querySelectorAll('*')].flatMap(
      e => [...e.attributes].filter(a => a.name.startsWith('on')).map(a => e.tagName + ' ' + a.name)),
  outside: [...document.querySelectorAll('[src], [href], link, iframe, object, embed, img')]
      .map(e => e.getAttribute('src') || e.getAttribute('href') || e.tagName)
      .filter(value => !String(value).startsWith('#')),
  resources: performance.getEntriesByType('resource').map(entry => entry.name),
  title: document.title,
})"""


@pytest.mark.parametrize("task, validated", CASES, ids=CASE_IDS)
def test_report_renders_in_chromium_without_network(browser: DevTools, task: str, validated: bool,
                                                    tmp_path: Path) -> None:
    rec = real_dict(task, validated)
    path = tmp_path / f"{task}.html"
    path.write_text(render_html(rec), encoding="utf-8")
    url = path.as_uri()

    session, requested = browser.open(url)
    page = json.loads(browser.evaluate(INSPECT, session))

    assert requested == [url], f"the report made requests: {requested}"
    assert page["resources"] == [] and page["outside"] == []
    assert page["scripts"] == 0 and page["handlers"] == []
    assert page["sections"] == [section_id for section_id, _ in SECTIONS]
    best = rec["candidates"][0]
    assert page["topLoss"] == best["title"] and page["topLossId"] == best["loss"]
    assert len(page["plots"]) == (2 if validated else 1)   # target distribution (+ fold scores)
    for plot in page["plots"]:
        assert plot["width"] > 300 and plot["height"] > 100 and plot["texts"] > 3

    browser.call("Emulation.setDeviceMetricsOverride",
                 {"width": 375, "height": 800, "deviceScaleFactor": 1, "mobile": True},
                 session=session)
    overflow = browser.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth", session)
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px on a narrow screen"
    browser.call("Emulation.setEmulatedMedia", {"media": "print"}, session=session)
    assert browser.evaluate("getComputedStyle(document.querySelector('nav')).display",
                            session) == "none"


def test_the_request_recorder_sees_external_requests(browser: DevTools, tmp_path: Path) -> None:
    """Control: a page that does fetch is caught, so an empty record above means something."""
    path = tmp_path / "leaky.html"
    path.write_text('<!DOCTYPE html><link rel="stylesheet" href="http://example.invalid/a.css">'
                    '<img src="https://example.invalid/b.png">', encoding="utf-8")
    _, requested = browser.open(path.as_uri())
    assert "http://example.invalid/a.css" in requested
    assert "https://example.invalid/b.png" in requested


def test_the_fairness_trade_off_renders_in_chromium(browser: DevTools, tmp_path: Path,
                                                    pinned_group_protocol: None) -> None:
    """A run with a sensitive column: the report's fairness table has one row per trained
    candidate with the four numbers, and its trade-off plot is drawn."""
    from test_fairness import _frame

    import advisor

    rec = advisor.suggest(_frame(), target="y", sensitive="grp", n_jobs=1, budget=30)
    path = tmp_path / "fairness.html"
    path.write_text(rec.to_html(), encoding="utf-8")
    session, requested = browser.open(path.as_uri())
    assert requested == [path.as_uri()]
    page = json.loads(browser.evaluate("""JSON.stringify({
      heading: (document.querySelector('#fairness') || {}).textContent,
      header: [...document.querySelectorAll('table.fairness thead th')].map(th => th.textContent),
      rows: [...document.querySelectorAll('table.fairness tbody tr')].map(
          tr => [...tr.querySelectorAll('td')].map(td => td.textContent)),
      plot: [...document.querySelectorAll('svg.plot')].some(svg => svg.textContent.includes('worst group')),
    })""", session))
    trained = [c for c in rec.candidates if c.evidence is not None and c.evidence.fairness]
    assert page["heading"] == "Fairness across the groups"
    assert page["header"][-2:] == ["demographic parity difference", "equalized odds difference"]
    assert [row[0] for row in page["rows"]] == [c.loss for c in trained]
    assert all(len(row) == 6 and row[2] in ("a", "b") for row in page["rows"])
    assert page["plot"], "the fairness trade-off plot is missing"
    markdown = rec.to_markdown()
    assert "### Fairness across the groups" in markdown and "| `group_dro`" in markdown
