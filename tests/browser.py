"""A headless Chromium driven over the DevTools protocol on a pipe
(`--remote-debugging-pipe`: JSON messages ended by NUL on file
descriptors 3 and 4), so the report's tests need no driver package."""

import base64
import json
import os
import select
import shutil
import subprocess
import tempfile

import pytest


def chromium_path():
    """Debian's `chromium` (installed by `make tools`), or None."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def started_browser():
    """A Browser for a test module's fixture; the test fails with the
    install hint where there is no chromium."""
    if chromium_path() is None:
        pytest.fail(
            "chromium is not installed: `make tools` installs it (apt-get install chromium)"
        )
    try:
        return Browser()
    except RuntimeError:
        # Once more: a first start on a fresh machine can be slow to answer.
        return Browser()


class Browser:
    """One headless Chromium with one page. Console messages, uncaught
    exceptions and network requests of the page are kept as they come."""

    def __init__(self, width=1280, height=900, timeout=60):
        self.timeout = timeout
        self.profile = tempfile.TemporaryDirectory()
        self._log = tempfile.TemporaryFile()
        to_child_read, self._to_child = os.pipe()
        self._from_child, from_child_write = os.pipe()

        def wire():
            # The protocol pipe must be on 3 (commands) and 4 (replies);
            # duplicate first so neither end is overwritten by the other.
            read_end, write_end = os.dup(to_child_read), os.dup(from_child_write)
            os.dup2(read_end, 3)
            os.dup2(write_end, 4)

        self.process = subprocess.Popen(
            [
                chromium_path(),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--remote-debugging-pipe",
                "--no-first-run",
                "--disable-extensions",
                "--disable-dev-shm-usage",
                f"--user-data-dir={self.profile.name}",
                f"--window-size={width},{height}",
                "about:blank",
            ],
            preexec_fn=wire,
            pass_fds=(3, 4),
            stdout=subprocess.DEVNULL,
            stderr=self._log,
        )
        os.close(to_child_read)
        os.close(from_child_write)
        self._pending = b""
        self._last_id = 0
        self.events = []
        try:
            self._open_page(width, height)
        except (RuntimeError, TimeoutError, OSError) as err:
            self.close()
            raise RuntimeError(
                f"chromium did not start: {err}; it said:\n{self.log_tail()}"
            ) from err

    def _open_page(self, width, height):
        target = self.command("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.command("Target.attachToTarget", targetId=target, flatten=True)[
            "sessionId"
        ]
        for domain in ["Page", "Runtime", "Log", "Network"]:
            self.command(f"{domain}.enable", session=self.session)
        self.command(
            "Emulation.setDeviceMetricsOverride",
            session=self.session,
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )

    def log_tail(self, lines=20):
        """The end of what chromium wrote on stderr."""
        self._log.seek(0)
        return "\n".join(self._log.read().decode(errors="replace").splitlines()[-lines:])

    def command(self, method, session=None, **params):
        self._last_id += 1
        message = {"id": self._last_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._to_child, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._receive()
            if reply.get("id") == self._last_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]
            self.events.append(reply)

    def page(self, method, **params):
        return self.command(method, session=self.session, **params)

    def _receive(self):
        while b"\0" not in self._pending:
            ready, _, _ = select.select([self._from_child], [], [], self.timeout)
            if not ready:
                raise TimeoutError(f"chromium sent nothing for {self.timeout} s")
            chunk = os.read(self._from_child, 1 << 16)
            if not chunk:
                raise RuntimeError("chromium closed the protocol pipe")
            self._pending += chunk
        message, self._pending = self._pending.split(b"\0", 1)
        return json.loads(message)

    def open(self, url):
        """Loads `url` and waits for its load event."""
        self.events.clear()
        self.page("Page.navigate", url=url)
        while not any(e.get("method") == "Page.loadEventFired" for e in self.events):
            self.events.append(self._receive())

    def evaluate(self, expression):
        """The value of a JavaScript expression in the page (JSON-able)."""
        result = self.page(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def problems(self):
        """Console errors and warnings, uncaught exceptions and failed loads."""
        found = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params["type"] in (
                "error",
                "warning",
                "assert",
            ):
                found.append(
                    f"console.{params['type']}: {[a.get('value') for a in params['args']]}"
                )
            elif method == "Runtime.exceptionThrown":
                found.append(f"exception: {params['exceptionDetails']}")
            elif method == "Log.entryAdded" and params["entry"]["level"] in ("error", "warning"):
                found.append(f"log: {params['entry']['text']}")
            elif method == "Network.loadingFailed":
                found.append(f"load failed: {params}")
        return found

    def requested_urls(self):
        return [
            e["params"]["request"]["url"]
            for e in self.events
            if e.get("method") == "Network.requestWillBeSent"
        ]

    def screenshot(self, path):
        shot = self.page("Page.captureScreenshot", format="png", captureBeyondViewport=False)
        path.write_bytes(base64.b64decode(shot["data"]))

    def close(self):
        try:
            self.command("Browser.close")
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for end in (self._to_child, self._from_child):
            try:
                os.close(end)
            except OSError:
                pass
        self.profile.cleanup()
