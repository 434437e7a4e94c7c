"""Archives in Chromium: a manager uploads a PST from the browser (streamed in chunks to disk),
watches the import finish live, finds a message in the knowledge search and opens its original;
an upload whose chunk is cut off by the network resumes and completes; an agent is told archives
are for managers until a manager allows agents."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from playwright.sync_api import Browser, Page, Route, expect
from sqlalchemy import select

from crm_app.db import session_scope
from jobs import pst_ingest
from models.archive import Archive
from tests.e2e.session import signed_in
from tests.factories import make_user

TIMEOUT = 60_000
SAMPLE_PST = Path(__file__).resolve().parent.parent / "data" / "pst" / "outlook-sample.pst"


def _upload_sample(page: Page, label: str) -> None:
    page.locator("#archive-label").fill(label)
    # The page has the label before the files go (the upload script reads it from the page).
    expect(page.locator("#archive-intake-summary")).to_contain_text(label, timeout=TIMEOUT)
    page.locator("#archive-upload input[type=file]").set_input_files(str(SAMPLE_PST))


def test_manager_uploads_a_pst_follows_the_import_and_opens_a_cited_message(
    db: str, app_url: str, browser: Browser, shoot
) -> None:
    manager = make_user("manager")
    _, page = signed_in(browser, app_url, manager.email, timeout=TIMEOUT, width=1280, height=1000)
    page.get_by_role("link", name="Archives").click()
    expect(page).to_have_url(re.compile(r"/settings/archives$"), timeout=TIMEOUT)
    expect(page.get_by_text("No archives yet")).to_be_visible(timeout=TIMEOUT)
    _upload_sample(page, "Partner mailbox 2011")
    row = page.locator(".archive-row", has_text="Partner mailbox 2011")
    expect(row).to_contain_text("queued", timeout=TIMEOUT)
    expect(row).to_contain_text("outlook-sample.pst")

    # The jobs process's work, done here: the page follows it live.
    results = pst_ingest.drain()
    assert [r.status for r in results] == ["done"]
    expect(row).to_contain_text("done", timeout=TIMEOUT)
    expect(row).to_contain_text("34 attachments")
    expect(row).to_contain_text("3 skipped")
    shoot(page, "archives-imported")

    page.get_by_role("link", name="Knowledge").click()
    page.locator("#knowledge-query").fill("message with multiple attachments")
    page.locator("#knowledge-search").click()
    hit = page.locator("a.knowledge-hit", has_text="Multiple attachments").first
    expect(hit).to_be_visible(timeout=TIMEOUT)
    expect(page.locator("#knowledge-hits")).to_contain_text("Partner mailbox 2011")
    shoot(page, "knowledge-search")
    hit.click()
    expect(page.locator("#archived-subject")).to_have_text("Multiple attachments", timeout=TIMEOUT)
    expect(page.get_by_text("text file.txt")).to_be_visible()
    expect(page.locator("#archived-body")).to_contain_text("multiple attachments")
    expect(page.get_by_text("Top of Personal Folders/Inbox")).to_be_visible()
    shoot(page, "archived-message")
    page.context.close()


def test_an_upload_whose_chunk_the_network_drops_resumes_and_is_queued(
    db: str, app_url: str, browser: Browser, shoot
) -> None:
    manager = make_user("manager")
    _, page = signed_in(browser, app_url, manager.email, timeout=TIMEOUT, width=1280, height=900)
    # 1 MB chunks: the 3.3 MB sample goes in four, and the second is cut off once.
    page.add_init_script("window.archiveUploadChunkBytes = 1048576")
    dropped: list[str] = []

    def drop_second_chunk_once(route: Route) -> None:
        request = route.request
        if (
            request.method == "PATCH"
            and request.headers.get("upload-offset") == "1048576"
            and not dropped
        ):
            dropped.append(request.url)
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/api/archive-uploads/**", drop_second_chunk_once)
    page.goto(f"{app_url}/settings/archives")
    expect(page.get_by_text("No archives yet")).to_be_visible(timeout=TIMEOUT)
    _upload_sample(page, "Resumed mailbox")
    progress = page.locator(".archive-upload-item", has_text="outlook-sample.pst")
    expect(progress).to_contain_text("queued for import", timeout=TIMEOUT)
    row = page.locator(".archive-row", has_text="Resumed mailbox")
    expect(row).to_contain_text("queued", timeout=TIMEOUT)
    assert len(dropped) == 1
    shoot(page, "archive-upload-resumed")

    with session_scope() as session:
        stored = session.execute(select(Archive)).scalars().all()
    assert [a.file_name for a in stored] == ["outlook-sample.pst"]
    assert (
        hashlib.sha256(Path(stored[0].path).read_bytes()).digest()
        == hashlib.sha256(SAMPLE_PST.read_bytes()).digest()
    )
    page.context.close()


def test_agent_sees_archives_only_when_a_manager_allows_it(
    db: str, app_url: str, browser: Browser
) -> None:
    from crm_app.services import archives

    manager, agent = make_user("manager"), make_user("agent")
    _, page = signed_in(browser, app_url, agent.email, timeout=TIMEOUT)
    expect(page.get_by_role("link", name="Archives")).to_have_count(0)
    page.goto(f"{app_url}/settings/archives")
    expect(page.get_by_text("Only managers bring archives in here")).to_be_visible(timeout=TIMEOUT)
    archives.set_agents_may_import(manager, True)
    page.reload()
    expect(page.locator("#archive-upload")).to_be_visible(timeout=TIMEOUT)
    expect(page.locator("#archive-confidential")).to_have_count(0)  # managers only
    expect(page.locator("#archive-server-path")).to_have_count(0)
    page.context.close()
