"""The dashboard in a real headless browser: Debian's chromium, driven by Playwright.

Never ``playwright install`` (it downloads a browser build, and CI has no internet): the tests
launch /usr/bin/chromium, which ``.ci/run`` installs. Locally they skip without it; under
``CI=true`` a missing chromium fails them. Screenshots are saved under a temporary directory
that the test prints (``-s`` shows it); ``docs/dashboard.png`` is one of them.

Waits are Playwright's own (a selector or text appearing, with a timeout), never sleeps.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from emulator.api import ApiRequest
from emulator.config import Settings
from emulator.tenancy import tenant_id

from .servers import EmulatorServer, Receiver

CHROMIUM = Path(os.environ.get("TELNYX_EMULATOR_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(os.environ.get("TELNYX_EMULATOR_ARTIFACTS") or tempfile.gettempdir()) / (
    "telnyx-emulator-screenshots"
)

if not CHROMIUM.exists() and os.environ.get("CI") != "true":
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)", allow_module_level=True)

sync_api = pytest.importorskip("playwright.sync_api") if os.environ.get("CI") != "true" else None
from playwright.sync_api import Browser, Page, expect, sync_playwright  # noqa: E402


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    p = context.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda e: errors.append(str(e)))
    yield p
    context.close()
    assert not errors, f"the page raised: {errors}"


def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path


# The servers are fixtures set up before the page, so the page (and its open event stream) is
# closed before they stop.


def test_simulate_watch_open_and_hang_up(
    start_emulator: Callable[..., EmulatorServer], receiver: Receiver, page: Page
) -> None:
    emulator = start_emulator()
    page.goto(emulator.url + "/_emulator/ui")
    expect(page.locator("#stream-status")).to_have_text("● Live")

    # Simulate an inbound call from the page: a fresh server has no tenant, so name one.
    page.get_by_label("Webhook URL").fill(receiver.url + "/hook")
    page.get_by_label("API key (a new tenant").fill("KEY_UI")
    page.get_by_role("button", name="Place the call").click()

    # call.initiated appears live (no reload), and the receiver really got it.
    initiated = page.locator("#timeline li[data-event-type='call.initiated']")
    expect(initiated).to_have_count(1)
    expect(initiated).to_contain_text("delivered")
    got = receiver.wait_events(1, "/hook")
    ccid = got[0].payload["call_control_id"]
    expect(page.locator("#tenant-single")).to_have_text("KEY_UI")
    expect(page.locator(f"#calls-body button[data-call='{ccid}']")).to_have_count(1)

    # Open the webhook's body: the same JSON the app received.
    initiated.locator("summary").click()
    body = json.loads(initiated.locator("pre.json").first.inner_text())
    assert body["data"]["payload"]["call_control_id"] == ccid
    assert body["data"] == got[0].json["data"]
    expect(initiated).to_contain_text("telnyx-signature-ed25519")

    # The app answers; then the person on the line presses a digit from the page, and hangs up.
    answer = httpx.post(
        f"{emulator.base_url}/calls/{ccid}/actions/answer",
        headers={"Authorization": "Bearer KEY_UI"},
        json={},
    )
    assert answer.status_code == 200
    press = page.get_by_role("button", name="Press digits")
    expect(press).to_be_enabled()
    page.once("dialog", lambda dialog: dialog.accept("5"))
    press.click()
    dtmf = page.locator("#timeline li[data-event-type='call.dtmf.received']")
    expect(dtmf).to_have_count(1)
    got = receiver.wait_events(3, "/hook")
    assert got[2].event_type == "call.dtmf.received" and got[2].payload["digit"] == "5"
    page.get_by_role("button", name="Hang up as the caller").click()
    hangup = page.locator("#timeline li[data-event-type='call.hangup']")
    expect(hangup).to_have_count(1)
    expect(hangup).to_contain_text("delivered")
    expect(page.locator("#timeline li.command").last).to_contain_text("far_end_hangup")
    expect(page.locator("#calls-body")).to_contain_text("hangup (normal_clearing, by caller)")
    hung = receiver.wait_events(4, "/hook")[3]
    assert hung.event_type == "call.hangup" and hung.payload["hangup_source"] == "caller"
    screenshot(page, "dashboard-call.png")


def test_keyboard_only(start_emulator: Callable[..., EmulatorServer], page: Page) -> None:
    emulator = start_emulator()
    ccid = post_call(emulator, "KEY_KB")
    page.goto(emulator.url + "/_emulator/ui")
    expect(page.locator("#stream-status")).to_have_text("● Live")
    row = page.locator(f"#calls-body button[data-call='{ccid}']")
    expect(row).to_have_count(1)
    row.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#session-heading")).to_be_focused()
    expect(page.locator("#timeline li[data-event-type='call.initiated']")).to_have_count(1)
    page.keyboard.press("Tab")  # into the leg's controls: the hang-up button comes first
    expect(page.get_by_role("button", name="Hang up as the caller")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#timeline li[data-event-type='call.hangup']")).to_have_count(1)


def test_admin_token_is_asked_once_and_tenants_are_picked(
    start_emulator: Callable[..., EmulatorServer], page: Page
) -> None:
    emulator = start_emulator(admin_token="s3cret")
    post_call(emulator, "KEY_ONE", admin="s3cret")
    two = post_call(emulator, "KEY_TWO", admin="s3cret")
    page.goto(emulator.url + "/_emulator/ui")
    secret = page.get_by_label("Admin token")
    expect(secret).to_be_focused()
    secret.fill("s3cret")
    page.keyboard.press("Enter")
    expect(page.locator("#stream-status")).to_have_text("● Live")
    picker = page.get_by_label("Tenant (API key)")
    expect(picker.locator("option")).to_have_count(2)
    picker.select_option(tenant_id("KEY_TWO"))
    expect(page.locator(f"#calls-body button[data-call='{two}']")).to_have_count(1)
    expect(page.locator("#calls-body tr")).to_have_count(1)
    page.reload()  # the token is remembered for the session: not asked again
    expect(page.locator("#stream-status")).to_have_text("● Live")
    expect(page.locator("#login")).to_be_hidden()


@pytest.fixture
def busy_emulator() -> Iterator[tuple[EmulatorServer, int, int]]:
    settings = Settings(time_scale=0.001, journal_limit=25_000, max_live_calls=100_000)
    emulator = EmulatorServer(settings)
    legs, webhooks = prefill(emulator, calls=1000, transfers_each=3)
    emulator.start()
    yield emulator, legs, webhooks
    emulator.stop()


def test_usable_with_a_thousand_calls_and_twenty_thousand_webhooks(
    busy_emulator: tuple[EmulatorServer, int, int], page: Page
) -> None:
    emulator, legs, webhooks = busy_emulator
    assert webhooks >= 20_000
    if True:
        started = time.monotonic()
        page.goto(emulator.url + "/_emulator/ui")
        expect(page.locator("#stream-status")).to_have_text("● Live")
        expect(page.locator("#calls-count")).to_have_text(f"{legs} of {legs} legs", timeout=20_000)
        loaded = time.monotonic() - started
        assert page.locator("#calls-body tr").count() == 50  # one page of rows in the DOM
        started = time.monotonic()
        page.get_by_role("button", name=re.compile("^Next")).click()
        expect(page.locator("#page-info")).to_have_text(f"Page 2 of {legs // 50}")
        page.locator("#calls-body button").first.click()
        expect(page.locator("#timeline li").first).to_be_visible()
        clicked = time.monotonic() - started
        page.get_by_label("Filter").fill("+13125550105")
        expect(page.locator("#calls-count")).to_contain_text(f"3000 of {legs} legs")
        print(f"{legs} legs, {webhooks} webhooks: loaded in {loaded:.2f} s, click {clicked:.2f} s")
        assert loaded < 15 and clicked < 5, (loaded, clicked)  # generous: CI shares 2 cores
        screenshot(page, "dashboard-busy.png")


# -- helpers -------------------------------------------------------------------------------------


def post_call(emulator: EmulatorServer, key: str, admin: str | None = None) -> str:
    headers = {"Authorization": f"Bearer {key}"}
    if admin:
        headers["X-Emulator-Admin-Token"] = admin
    r = httpx.post(
        emulator.url + "/_emulator/calls",
        json={"from": "+12125550199", "to": "+13125550100"},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    return str(r.json()["data"]["call_control_id"])


def prefill(emulator: EmulatorServer, *, calls: int, transfers_each: int) -> tuple[int, int]:
    """Fill the journal through the API, in-process, before the server starts: each call is
    transferred to the bundled voicemail with AMD (six webhooks a transfer)."""
    api = emulator.api
    headers = {"authorization": "Bearer KEY_BUSY", "content-type": "application/json"}

    def handle(method: str, path: str, body: dict[str, Any]) -> Any:
        r = api.handle(ApiRequest(method, path, headers, json.dumps(body).encode()))
        assert r.status < 300, r.payload
        return r.payload

    for _ in range(calls):
        a = handle("POST", "/_emulator/calls", {"from": "+12125550199", "to": "+13125550100"})
        ccid = a["data"]["call_control_id"]
        for _ in range(transfers_each):
            handle(
                "POST",
                f"/calls/{ccid}/actions/transfer",
                {"to": "+13125550105", "answering_machine_detection": "detect_beep"},
            )
            api.run_due(api.clock.now() + 0.05)  # leg B answers, AMD ends (50 ms at 1/1000)
    engine = api.tenants["KEY_BUSY"]
    return len(engine.calls), len(engine.webhooks)
