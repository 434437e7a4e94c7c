"""The agent workspace with two agents at once, in two Chromium contexts against the production
build: presence, a conflicting save, live client messages in an open queue and ticket, search
with highlights, a bulk change, a macro written on the macros page and applied into the
composer, and a merge."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, Page, expect

from crm_app.ai import sentiment
from crm_app.services import tickets
from tests.e2e.session import signed_in
from tests.factories import make_client, make_ticket, make_user

TIMEOUT = 30_000
LIVE = 15_000  # the views poll every 3 s; a change must show within a few polls


def _pick(page: Page, select_id: str, option: str) -> None:
    page.locator(f"#{select_id}").click()
    page.get_by_role("option", name=option, exact=True).click()


def test_two_agents_share_a_ticket_live_without_losing_updates(
    db: str, app_url: str, browser: Browser, shoot
) -> None:
    alice = make_user("agent", name="Alice Archer")
    bob = make_user("agent", name="Bob Baker")
    client_user = make_user("client", name="Ada Lovelace")
    ada = make_client(alice, "Ada Lovelace", portal_user=client_user)
    main = tickets.create_ticket(
        alice,
        client_id=ada,
        subject="Withdrawal to my bank account",
        body="Please release my withdrawal of 10,000 USD.",
    ).number
    duplicate = tickets.create_ticket(
        alice,
        client_id=ada,
        subject="Withdrawal again",
        body="I wrote about my withdrawal earlier.",
    ).number
    others = [
        tickets.create_ticket(
            bob,
            client_id=ada,
            subject=f"Statement question {i}",
            body="Where is my quarterly statement?",
        ).number
        for i in range(3)
    ]

    alice_context, a = signed_in(browser, app_url, alice.email, width=1500, height=1000)
    bob_context, b = signed_in(browser, app_url, bob.email, width=1500, height=1000)

    # Presence: each sees the other on the ticket, and when the other is writing.
    a.goto(f"{app_url}/tickets/{main}")
    b.goto(f"{app_url}/tickets/{main}")
    expect(a.locator("#ticket-title")).to_contain_text("Withdrawal to my bank account")
    expect(a.locator("#presence")).to_contain_text("Bob Baker is viewing this ticket", timeout=LIVE)
    expect(b.locator("#presence")).to_contain_text(
        "Alice Archer is viewing this ticket", timeout=LIVE
    )
    b.locator("#composer").fill("Checking with the payments desk now.")
    expect(a.locator("#presence")).to_contain_text(
        "Bob Baker is replying to this ticket", timeout=LIVE
    )
    shoot(a, "ws-01-presence-replying")

    # No lost updates: both views show the same version; Alice saves first, Bob's save is
    # refused with a clear message and his view now shows Alice's change. (An open view also
    # refreshes itself every few seconds, so the two saves are made back to back.)
    conflicted = False
    for priority, status in (("high", "pending"), ("urgent", "open"), ("low", "pending")):
        expect(b.locator("#priority-select")).to_have_text(
            a.locator("#priority-select").inner_text(), timeout=LIVE
        )
        b.locator("#status-select").click()
        _pick(a, "priority-select", priority)
        b.get_by_role("option", name=status, exact=True).click()
        expect(a.locator("#priority-select")).to_have_text(priority)
        conflict = b.locator("#conflict")
        try:
            expect(conflict).to_be_visible(timeout=5_000)
        except AssertionError:
            continue  # the live refresh reached Bob first: his save was not stale
        expect(conflict).to_contain_text("was changed by Alice Archer while you were working")
        expect(b.locator("#priority-select")).to_have_text(priority)
        shoot(b, "ws-02-conflict")
        conflicted = True
        break
    assert conflicted, "the second of two simultaneous saves was never refused"
    _pick(b, "status-select", "resolved")  # making the change again now works
    expect(b.locator("#ticket-title").locator("..")).to_contain_text("resolved")
    expect(b.locator("#conflict")).to_have_count(0)

    # Live: a client message shows in Alice's open ticket and Bob's open queue, no reload.
    b.get_by_role("link", name="Tickets").first.click()
    expect(b).to_have_url(re.compile(r"/tickets$"))
    expect(b.locator("tr.ticket-row").first).to_be_visible()
    expect(a.locator("#presence")).to_have_count(0, timeout=LIVE)  # Bob left the ticket
    tickets.add_message(
        client_user,
        main,
        "This is unacceptable, I am furious: my withdrawal is late again and nobody answers me.",
    )
    sentiment.score_new_client_messages()
    message = a.locator(".message", has_text="nobody answers me")
    expect(message).to_be_visible(timeout=LIVE)
    expect(message.locator(".sentiment")).to_be_visible(timeout=LIVE)
    # The assistant panel follows the newest client message without a reload.
    expect(a.locator("#ai-sentiment")).to_contain_text("negative", timeout=LIVE)
    fresh = tickets.create_ticket(
        bob,
        client_id=ada,
        subject="Brand new: card blocked abroad",
        body="My card is blocked.",
        assignee_id=alice.user_id,
    ).number
    expect(b.locator("tr.ticket-row", has_text="card blocked abroad")).to_be_visible(timeout=LIVE)
    expect(b.locator("tr.ticket-row", has_text="Withdrawal to my bank account")).to_contain_text(
        "open"
    )
    shoot(a, "ws-03-live-client-message")
    shoot(b, "ws-04-live-queue")

    # Search: prefix match, highlighted words in subject and snippet.
    b.locator("#search").fill("withdr")
    b.locator("#search").press("Enter")
    hit = b.locator(".search-hit", has_text="Withdrawal to my bank account")
    expect(hit).to_be_visible()
    expect(hit.locator("mark").first).to_have_text(re.compile("withdrawal", re.I))
    shoot(b, "ws-05-search")
    b.get_by_role("button", name="Back to queue").click()

    # Bulk: select the three statement tickets and raise their priority together.
    for number in others:
        b.get_by_role("checkbox", name=f"Select ticket {number}").click()
    expect(b.locator("#bulk-bar")).to_contain_text("3 selected")
    _pick(b, "bulk-priority", "urgent")
    expect(b.get_by_text("3 tickets changed")).to_be_visible()
    for number in others:
        expect(b.locator("tr.ticket-row", has_text=f"#{number}")).to_contain_text("urgent")
    shoot(b, "ws-06-bulk")

    # Macros: Alice writes one on the macros page and applies it in the ticket's composer.
    a.get_by_role("link", name="Macros & assignment").click()
    expect(a.get_by_text("No macros yet")).to_be_visible()
    a.locator("#new-macro").click()
    a.locator("#macro-title").fill("Withdrawal received")
    a.locator("#macro-body").fill(
        "Hello {client.first_name}, we are on ticket #{ticket.number}. {agent.name}"
    )
    a.locator("#save-macro").click()
    expect(a.locator("tr.macro-row", has_text="Withdrawal received")).to_be_visible()
    shoot(a, "ws-07-macros-page")
    a.goto(f"{app_url}/tickets/{main}")
    a.locator("#macro-select").click()
    a.get_by_role("option", name="Withdrawal received").click()
    expect(a.locator("#composer")).to_have_value(
        f"Hello Ada, we are on ticket #{main}. Alice Archer"
    )
    shoot(a, "ws-08-macro-in-composer")
    a.locator("#send").click()
    expect(a.locator(".message", has_text="we are on ticket")).to_be_visible()

    # Merge: the duplicate goes into the main ticket, its messages with it.
    a.goto(f"{app_url}/tickets/{duplicate}")
    a.locator("#merge-target").fill(str(main))
    a.get_by_role("button", name="Merge…").click()
    a.locator("#confirm-merge").click()
    expect(a).to_have_url(re.compile(rf"/tickets/{main}$"))
    expect(a.locator(".message", has_text="I wrote about my withdrawal earlier")).to_be_visible()
    expect(a.locator(".internal-note", has_text=f"Ticket #{duplicate}")).to_contain_text(
        "was merged into this ticket"
    )
    shoot(a, "ws-09-merged")
    assert tickets.get_ticket(alice, duplicate).merged_into_number == main
    assert tickets.get_ticket(alice, fresh).ticket.assignee_name == "Alice Archer"
    alice_context.close()
    bob_context.close()


def _many_clients(count: int) -> None:
    """Clients straight into the table, alphabetically before anyone a test looks for."""
    from sqlalchemy import text

    from crm_app.db import session_scope

    with session_scope() as session:
        session.execute(
            text(
                "INSERT INTO client (name, email, risk_category, currency, created_at, updated_at) "
                "SELECT 'Aaron ' || lpad(g::text, 5, '0'), 'bulk' || g || '@x.example', "
                "'moderate', 'USD', now(), now() FROM generate_series(1, :n) g"
            ),
            {"n": count},
        )


def test_phone_ticket_for_any_client_by_keyboard_then_note_with_ctrl_enter(
    db: str, app_url: str, browser: Browser, shoot
) -> None:
    agent = make_user("agent", name="Kim Keys")
    _many_clients(300)
    zoe = make_client(agent, "Zoe Zimmermann")
    context, page = signed_in(browser, app_url, agent.email, width=1280)
    expect(page.get_by_text("No tickets here")).to_be_visible()

    # `?` lists the shortcuts; Esc closes the list.
    page.keyboard.press("?")
    expect(page.locator("#shortcuts-help")).to_contain_text("Open the highlighted ticket")
    page.keyboard.press("Escape")
    expect(page.locator("#shortcuts-help")).to_have_count(0)

    # The picker searches every client (Zoe is far past the first 200 names) by keyboard.
    page.locator("#new-ticket").click()
    expect(page.locator("#client-search")).to_be_focused()
    page.keyboard.type("zimmer")
    expect(page.locator(".client-pick")).to_have_count(1)
    expect(page.locator(".client-pick.active")).to_contain_text(
        f"Zoe Zimmermann <zoe@x.example> · #{zoe}"
    )
    shoot(page, "ws-10-client-picker")
    page.keyboard.press("Enter")
    expect(page.locator("#picked-client")).to_contain_text("Zoe Zimmermann")
    expect(page.locator("#subject")).to_be_focused()
    page.keyboard.type("Called about a withdrawal")
    expect(page.locator("#body-hint")).to_contain_text("client's own message")
    page.locator("#body").fill("Please send 5,000 EUR to my usual account by Friday.")
    page.locator("#create-ticket").click()
    expect(page).to_have_url(re.compile(r"/tickets/\d+$"))
    first = page.locator(".message").first
    expect(first).to_contain_text("Zoe Zimmermann")
    expect(first.locator(".logged-by")).to_have_text("logged by Kim Keys · phone")
    shoot(page, "ws-11-logged-call")

    # n: an internal note in the composer; Ctrl+Enter sends it; letters typed there stay there.
    # (A key pressed while the page is still loading its side panels can be lost.)
    page.wait_for_timeout(700)
    page.keyboard.press("n")
    expect(page.locator("#composer")).to_be_focused()
    page.keyboard.type("Identity checked on the call, no red flags.")
    expect(page.locator("#send")).to_have_text("Add internal note")
    page.keyboard.press("Control+Enter")
    expect(page.locator(".internal-note", has_text="no red flags")).to_be_visible()
    expect(page.locator("#composer")).to_have_value("")
    context.close()


def test_new_client_inline_from_the_ticket_dialog_then_an_email_ticket_with_cc(
    db: str, app_url: str, browser: Browser, shoot
) -> None:
    agent = make_user("agent")
    context, page = signed_in(browser, app_url, agent.email, width=1280)
    page.locator("#new-ticket").click()
    page.locator("#client-search").fill("Nina Newcomer")
    expect(page.locator("#pick-new-client")).to_be_visible()
    page.keyboard.press("Enter")  # no client matches: the highlighted option is "New client"
    expect(page.locator("#new-client-name")).to_have_value("Nina Newcomer")
    page.locator("#new-client-email").fill("nina@newcomer.example")
    page.keyboard.press("Enter")
    expect(page.locator("#picked-client")).to_contain_text("Nina Newcomer <nina@newcomer.example>")
    # Esc with the list open closes the list, not the dialog.
    page.locator("#change-client").click()
    page.locator("#client-search").fill("nina")
    expect(page.locator(".client-pick")).to_have_count(1)
    page.keyboard.press("Escape")
    expect(page.locator("#client-options")).to_have_count(0)
    expect(page.locator("#client-search")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("#client-search")).to_have_count(0)

    # An email ticket for her, copying two people: the Cc field comes with the email channel,
    # next in the tab order after the priority; a wrong entry is refused in the form.
    page.locator("#new-ticket").click()
    expect(page.locator("#client-search")).to_be_focused()  # keys typed before it opens are lost
    page.keyboard.type("nina")
    expect(page.locator(".client-pick")).to_have_count(1)
    page.keyboard.press("Enter")
    expect(page.locator("#subject")).to_be_focused()
    page.keyboard.type("Your onboarding documents")
    expect(page.locator("#new-cc")).to_have_count(0)  # a phone ticket copies no one
    _pick(page, "new-channel", "email")
    cc = page.locator("#new-cc")
    expect(cc).to_be_visible()
    page.locator("#new-channel").focus()
    page.keyboard.press("Tab")  # the priority
    page.keyboard.press("Tab")
    expect(cc).to_be_focused()
    page.keyboard.type("Omar@Family.example; omar at family")
    page.locator("#body").fill("Please find the documents to sign attached.")
    page.locator("#create-ticket").click()
    expect(
        page.get_by_role("alert").filter(has_text="“omar” is not an email address")
    ).to_be_visible()
    expect(page).not_to_have_url(re.compile(r"/tickets/\d+$"))
    shoot(page, "ws-12-new-ticket-cc-refused")
    cc.fill("Omar@Family.example; lena@advisers.example")
    cc.press("Enter")  # Enter in the field sends the form
    expect(page).to_have_url(re.compile(r"/tickets/\d+$"))
    first = page.locator(".message").first
    expect(first.locator(".message-cc")).to_have_text(
        "Cc: omar@family.example, lena@advisers.example"
    )
    expect(page.locator(".cc-chip")).to_have_text(["omar@family.example", "lena@advisers.example"])
    shoot(page, "ws-13-email-ticket-with-cc")
    context.close()


def test_search_finds_an_iban_in_a_message_and_j_enter_open_it(
    db: str, app_url: str, browser: Browser, shoot
) -> None:
    agent = make_user("agent")
    ada = make_client(agent, "Ada Lovelace")
    wanted = tickets.create_ticket(
        agent,
        client_id=ada,
        subject="New payee",
        channel="email",
        body="Please pay to GB29 NWBK 6016 1331 9268 19.",
    ).number
    for i in range(30):
        tickets.create_ticket(
            agent,
            client_id=ada,
            subject=f"Escrow question {i}",
            body="About the escrow account.",
            channel="email",
        )
    context, page = signed_in(browser, app_url, agent.email, width=1280)
    expect(page.locator("tr.ticket-row").first).to_be_visible()
    # Typing j in the search box types a j: no row is highlighted.
    page.locator("#search").click()
    page.keyboard.type("jk")
    expect(page.locator("#search")).to_have_value("jk")
    expect(page.locator(".cursor")).to_have_count(0)
    page.locator("#search").fill("")
    page.locator("#search").blur()
    page.keyboard.press("/")
    expect(page.locator("#search")).to_be_focused()
    expect(page.locator("#search")).to_have_value("")
    page.keyboard.type("GB29NWBK60161331926819")
    page.keyboard.press("Enter")
    hit = page.locator(".search-hit")
    expect(hit).to_have_count(1)
    expect(hit.locator("mark")).to_have_text("GB29 NWBK 6016 1331 9268 19")
    expect(page.locator("#search-total")).to_have_text("1 ticket found")
    shoot(page, "ws-12-search-iban")
    page.locator("#search").blur()
    page.keyboard.press("j")
    expect(page.locator(".search-hit.cursor")).to_have_count(1)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"/tickets/{wanted}$"))

    # A client's name finds their tickets; 31 results page beyond the first 25.
    page.goto(f"{app_url}/tickets")
    page.locator("#search").fill("Ada Lovelace")
    page.locator("#search").press("Enter")
    expect(page.locator("#search-total")).to_have_text("31 tickets found")
    expect(page.locator(".search-hit")).to_have_count(25)
    page.locator("#search-next").click()
    expect(page.locator("#search-page")).to_have_text("Page 2")
    expect(page.locator(".search-hit")).to_have_count(6)
    # Relative times with the full local time on hover.
    expect(page.locator(".search-hit .when").first).to_contain_text("ago")
    expect(page.locator(".search-hit .when time").first).to_have_attribute(
        "title", re.compile(r"\d{4}, \d\d:\d\d \(UTC[+-]\d\d:\d\d\)")
    )
    context.close()


def test_the_profile_time_zone_changes_how_queue_times_read(
    db: str, app_url: str, browser: Browser, shoot
) -> None:
    agent = make_user("agent")
    make_ticket(agent, make_client(agent))
    context, page = signed_in(browser, app_url, agent.email, width=1280)
    created = page.locator("tr.ticket-row .when time").first
    expect(created).to_have_attribute("title", re.compile(r"\(UTC\+00:00\)$"))
    page.locator("#user-menu").click()
    page.locator("#profile-link").click()
    expect(page).to_have_url(re.compile("/profile$"))
    page.locator("#time-zone").select_option("Asia/Tokyo")
    page.locator("#save-profile").click()
    expect(page.locator("#clock")).to_contain_text("(UTC+09:00)")
    shoot(page, "ws-13-profile-time-zone")
    page.get_by_role("link", name="Tickets").first.click()
    expect(page.locator("tr.ticket-row .when time").first).to_have_attribute(
        "title", re.compile(r"\(UTC\+09:00\)$")
    )
    context.close()
