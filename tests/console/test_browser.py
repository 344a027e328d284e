"""The console in a real browser (Debian's headless Chromium) against a live ``kumo up``
with the fake compute and network drivers."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import LiveCloud, free_port
from tests.e2e import vmhelpers

from .live import CHROMEDRIVER, CHROMIUM, Account, Admin, chromium

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="needs Debian's chromium and chromium-driver (make apt installs them)")]


@pytest.fixture(scope="module")
def live() -> Iterator[tuple[LiveCloud, Admin]]:
    tmp = Path(tempfile.mkdtemp(prefix="kumo-console-"))
    c = LiveCloud(tmp / "data", free_port(),
                  args=["--driver", "fake", "--net-driver", "fake", "--no-image"])
    try:
        c.start()
        yield c, Admin(c.base_url, c.admin_password)
    finally:
        c.stop()
        c.kill_vms()
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    b = chromium()
    b.implicitly_wait(0)
    try:
        yield b
    finally:
        b.quit()


def wait_for(cond: Any, timeout: float = 15, what: str = "") -> Any:
    """Poll ``cond``; an element replaced by a page load while it was read counts as
    'not yet' (Selenium's stale-element race on a loaded machine)."""
    from selenium.common.exceptions import StaleElementReferenceException

    def attempt() -> Any:
        try:
            return cond()
        except StaleElementReferenceException:
            return None
    return vmhelpers.wait_for(what, attempt, timeout, interval=0.05)


def log_in(b: Any, base: str, who: Account) -> None:
    from selenium.webdriver.common.by import By

    b.delete_all_cookies()
    b.get(base + "/console/login")
    b.find_element(By.ID, "user").send_keys(who.name)
    b.find_element(By.ID, "password").send_keys(who.password)
    b.find_element(By.ID, "login").click()
    wait_for(lambda: "Quota usage" in b.page_source, what="the overview")


def text(b: Any) -> str:
    from selenium.webdriver.common.by import By

    return b.find_element(By.TAG_NAME, "main").text


def test_tenant_journey(live: tuple[LiveCloud, Admin], browser: Any) -> None:  # noqa: PLR0915
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    cloud, admin = live
    base, b = cloud.base_url, browser
    image = admin.image()
    alice, bob = admin.account("alice"), admin.account("bob")
    log_in(b, base, alice)
    # a network with its subnet through the form; a bad CIDR shows Neutron's message
    b.get(base + "/console/list/networks")
    b.find_element(By.ID, "name").send_keys("web-net")
    b.find_element(By.ID, "cidr").send_keys("10.50.0.0/99")
    b.find_element(By.ID, "create-network").click()
    error = wait_for(lambda: [e.text for e in b.find_elements(By.ID, "error")],
                     what="the API's error")[0]
    assert "10.50.0.0/99" in error or "cidr" in error.lower()
    assert "web-net" not in b.find_element(By.TAG_NAME, "tbody").text
    b.find_element(By.ID, "cidr").clear()
    b.find_element(By.ID, "cidr").send_keys("10.50.0.0/24")
    b.find_element(By.ID, "create-network").click()
    wait_for(lambda: "web-net" in b.find_element(By.TAG_NAME, "tbody").text, what="network")
    # the list is open in one tab before the server exists; it must appear and turn ACTIVE
    b.get(base + "/console/servers")
    wait_for(lambda: b.find_element(By.ID, "live").text == "live", what="the live stream")
    b.execute_script("window.__loaded = 'once'")
    listing = b.current_window_handle
    b.switch_to.new_window("tab")
    b.get(base + "/console/servers/new")
    b.find_element(By.ID, "name").send_keys("web1")
    Select(b.find_element(By.ID, "image")).select_by_value(image)
    Select(b.find_element(By.ID, "flavor")).select_by_visible_text("m1.nano")
    Select(b.find_element(By.ID, "network")).select_by_visible_text("web-net")
    b.find_element(By.ID, "user_data").send_keys("#!/bin/sh\necho console")
    b.find_element(By.ID, "create").click()
    wait_for(lambda: "/console/servers/" in b.current_url and "new" not in b.current_url,
             what="the server page")
    sid = b.current_url.rsplit("/", 1)[1]
    b.execute_script("window.__loaded = 'once'")
    wait_for(lambda: "kumo-tiny booted" in b.find_element(By.ID, "log").text, 60,
             what="the boot marker in the live console log")
    assert b.find_element(By.ID, "status").text == "ACTIVE"
    assert b.execute_script("return window.__loaded") == "once", "the page reloaded"
    b.switch_to.window(listing)
    wait_for(lambda: b.find_elements(By.CSS_SELECTOR, f"#s-{sid} td.st-ACTIVE"), 60,
             what="ACTIVE in the open list")
    assert b.execute_script("return window.__loaded") == "once", "the page reloaded"
    # bob, in another project, sees none of it
    b.switch_to.window([h for h in b.window_handles if h != listing][0])
    b.close()
    b.switch_to.window(listing)
    log_in(b, base, bob)
    for path in ("/console/servers", "/console/list/networks", "/console/list/subnets"):
        b.get(base + path)
        assert "web1" not in text(b) and "web-net" not in text(b) and "10.50.0" not in text(b)
    b.get(base + f"/console/servers/{sid}")
    assert "Refused" in text(b)
    # no operator page for a member, not even by URL
    assert not b.find_elements(By.LINK_TEXT, "Hosts")
    for path in ("/console/admin/hosts", "/console/admin/doctor"):
        b.get(base + path)
        assert "Refused" in text(b) and "admin" in text(b).lower()
    # a form without the CSRF token (as another site would post it) is refused
    b.get(base + "/console/list/networks")
    b.execute_script("""var f=document.createElement('form');f.method='post';
      f.action='/console/networks';var i=document.createElement('input');i.name='name';
      i.value='forged';f.appendChild(i);document.body.appendChild(f);f.submit();""")
    wait_for(lambda: "CSRF" in b.page_source, what="the CSRF refusal")
    b.get(base + "/console/list/networks")
    assert "forged" not in text(b)
    # alice deletes her server; the list she watches drops it live
    log_in(b, base, alice)
    b.get(base + "/console/servers")
    wait_for(lambda: b.find_element(By.ID, "live").text == "live", what="the live stream")
    b.get(base + f"/console/servers/{sid}")
    b.find_element(By.ID, "act-delete").click()
    wait_for(lambda: b.current_url.endswith("/console/servers"), what="back to the list")
    wait_for(lambda: not b.find_elements(By.ID, f"s-{sid}"), 60, what="the row to go")
    r = httpx.get(base + "/compute/v2.1/servers", headers=admin.http.headers,
                  params={"all_tenants": "1"})
    assert sid not in r.text or "DELETED" in r.text


def test_operator_sees_hosts_and_doctor(live: tuple[LiveCloud, Admin], browser: Any) -> None:
    from selenium.webdriver.common.by import By

    cloud, admin = live
    ops = admin.account("ops", role="admin")
    log_in(browser, cloud.base_url, ops)
    browser.find_element(By.LINK_TEXT, "Hosts").click()
    wait_for(lambda: "Agents" in browser.page_source, what="the hosts page")
    assert browser.find_elements(By.CSS_SELECTOR, "main table tbody tr")
    browser.get(cloud.base_url + "/console/admin/doctor")
    assert "kumo doctor" in text(browser)


AXE_JS = Path(__file__).resolve().parents[2] / ".venv" / "axe" / "node_modules" / "axe-core" \
    / "axe.min.js"
PAGES = ["/console/", "/console/servers", "/console/servers/new", "/console/images",
         "/console/keypairs", "/console/admin/hosts", "/console/admin/doctor",
         *(f"/console/list/{n}" for n in ("networks", "subnets", "ports", "routers",
                                          "floatingips", "security-groups", "zones",
                                          "recordsets"))]


@pytest.mark.skipif(not AXE_JS.exists(), reason="needs axe-core (make axe installs it)")
def test_no_critical_accessibility_violation(live: tuple[LiveCloud, Admin],
                                             browser: Any) -> None:
    cloud, admin = live
    ops = admin.account("a11y", role="admin")
    axe = AXE_JS.read_text()
    browser.delete_all_cookies()
    found: dict[str, list[str]] = {}
    pages = ["/console/login", "/console/no-such-page"]
    for i, path in enumerate([*pages, *PAGES]):
        if i == len(pages):
            log_in(browser, cloud.base_url, ops)
        browser.get(cloud.base_url + path)
        browser.execute_script(axe)
        result = browser.execute_async_script(
            "var done = arguments[0]; axe.run(document).then(done, "
            "function (e) { done({error: String(e)}); });")
        assert "error" not in result and result["passes"], result  # axe ran its rules
        print(path, sorted({(v["impact"], v["id"]) for v in result["violations"]}))
        bad = [f"{v['id']}: {v['help']}" for v in result["violations"]
               if v["impact"] == "critical"]
        if bad:
            found[path] = bad
    assert not found, found


def test_readable_at_phone_width_and_by_keyboard(live: tuple[LiveCloud, Admin],
                                                 browser: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    cloud, admin = live
    log_in(browser, cloud.base_url, admin.account("phone"))
    browser.set_window_size(390, 844)
    try:
        wide = {}
        for path in ("/console/", "/console/servers", "/console/servers/new",
                     "/console/list/ports", "/console/list/security-groups"):
            browser.get(cloud.base_url + path)
            over = browser.execute_script(
                "return document.documentElement.scrollWidth - window.innerWidth")
            if over > 1:
                wide[path] = over
        assert not wide, f"pages wider than a phone (px too wide): {wide}"
    finally:
        browser.set_window_size(1280, 800)
    # the first Tab reaches the skip link, Enter moves to the content
    browser.get(cloud.base_url + "/console/servers")
    browser.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
    focused = browser.switch_to.active_element
    assert focused.text == "Skip to content"
    focused.send_keys(Keys.ENTER)
    assert browser.current_url.endswith("#main")
