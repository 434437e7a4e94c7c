"""The campaign body as the rich editor sends it: stored sanitized, with plain spaces."""

from __future__ import annotations

from crm_app.services.campaigns import manage
from tests.factories import make_user

# What Quill 2 hands over for a heading, a paragraph with bold and a pasted script.
EDITOR_HTML = (
    "<h2>Autumn&nbsp;outlook</h2><p>Dear&nbsp;{{first_name|client}},&nbsp;markets&nbsp;were"
    "&nbsp;<strong>calm</strong>.</p><script>alert(1)</script>"
)


def test_the_editors_html_is_stored_sanitized_with_plain_spaces(db: str) -> None:
    marketer = make_user("marketing")
    campaign_id = manage.create_campaign(marketer, "Autumn outlook")
    row = manage.save_draft(marketer, campaign_id, {"body_html": EDITOR_HTML})
    assert row.body_html == (
        "<h2>Autumn outlook</h2><p>Dear {{first_name|client}}, markets were "
        "<strong>calm</strong>.</p>"
    )
    text = manage.generated_text(marketer, campaign_id)
    assert "Autumn outlook" in text and "markets were" in text and "\xa0" not in text
