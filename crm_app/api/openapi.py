"""The API's description at `/api/openapi.json` and a usable `/api/docs`.

Swagger UI is served from the app itself (the `swagger-ui-bundle` package's files under
`/api/docs/assets`): the page's Content-Security-Policy allows only this origin, and the app
never reaches the internet at run time.
"""

from __future__ import annotations

from typing import Any

import swagger_ui_bundle
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS = "/api/docs"
ASSETS = "/api/docs/assets"
DESCRIPTION = """\
Everything a page of the CRM can do, for integrations and scripts. Every route goes through
the same services and permission checks as the pages.

**Authentication** — one of:
- `Authorization: Bearer crm_pat_…`: a personal access token (profile page, or
  `python -m crm_app.cli create-token`). A `read` token may only use GET.
- the browser's `crm_session` cookie, for the app's own pages (same origin only: other sites'
  state-changing requests are refused).
- `X-Session-Token`: an Ory Kratos session token, when Ory is configured.

**Errors** all have one shape: `{"error": {"code", "message", "fields"}}` with 401 (no valid
credentials), 403 (role or token scope), 404 (missing, or not yours to see), 409 (changed since
`expected_version`), 422 (invalid input).

**Webhooks** are POSTed with `X-CRM-Event`, `X-CRM-Delivery` (de-duplicate on it),
`X-CRM-Timestamp` and `X-CRM-Signature: sha256=HMAC_SHA256(secret, timestamp + "." + body)`.
"""


# The routes that predate /api/v1 answer errors as {"error": "message"}; say so, and what they
# return, so the whole document is true (their code stays as it is).
_PLAIN_ERROR = {
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {"error": {"type": "string"}},
                "required": ["error"],
            }
        }
    }
}
_OLDER_ROUTES: dict[str, dict[str, dict[str, Any]]] = {
    "/api/attachments/{attachment_id}": {
        "200": {
            "description": "The file",
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        },
        "401": {"description": "Not signed in (browser session cookie)", **_PLAIN_ERROR},
        "404": {"description": "No such file, or not yours to see", **_PLAIN_ERROR},
    },
    "/api/health": {
        "200": {
            "description": "Up, and the database answers",
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "status": {"type": "string"},
                            "database": {"type": "string"},
                        },
                        "required": ["status", "database"],
                    }
                }
            },
        },
        "503": {
            "description": "The database does not answer",
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "status": {"type": "string"},
                            "database": {"type": "string"},
                        },
                    }
                }
            },
        },
    },
}


def _describe_older_routes(document: dict[str, Any]) -> None:
    for path, responses in _OLDER_ROUTES.items():
        for operation in document.get("paths", {}).get(path, {}).values():
            operation.setdefault("responses", {}).update(responses)


def install_docs(api: FastAPI) -> None:
    """Describe the API (title, security, errors) and serve Swagger UI from local files."""
    api.mount(ASSETS, StaticFiles(directory=swagger_ui_bundle.swagger_ui_path), name="docs-assets")

    def openapi() -> dict[str, Any]:
        if api.openapi_schema is None:
            api.openapi_schema = get_openapi(
                title=api.title,
                version=api.version,
                description=DESCRIPTION,
                routes=api.routes,
                servers=[{"url": "/"}],
            )
            _describe_older_routes(api.openapi_schema)
        return api.openapi_schema

    api.openapi = openapi  # type: ignore[method-assign]

    @api.get(DOCS, include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=api.openapi_url or "/api/openapi.json",
            title=f"{api.title} — docs",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
        )
