"""The web console: static files (HTML, CSS, JavaScript modules) served by the server at ``/ui/``.

Nothing here runs Node: the console is plain files shipped inside the package. Files made elsewhere
sit under ``static/vendor``, copied there by ``web/vendor.mjs``: ECharts from its npm package and the
browser build of ``@myagent/client`` (``clients/js``), through which the console speaks the protocol.
"""

from __future__ import annotations

from pathlib import Path

from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

__all__ = ["STATIC_DIR", "ConsoleFiles"]

STATIC_DIR = Path(__file__).resolve().parent / "static"

# The console talks only to the server that serves it; ECharts sets inline styles on its elements.
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "connect-src 'self'; font-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'self'; "
    "form-action 'none'"
)


class ConsoleFiles(StaticFiles):
    """``StaticFiles`` for the console: ``index.html`` for ``/ui/``, revalidated caching, a strict CSP."""

    def __init__(self, directory: Path = STATIC_DIR) -> None:
        super().__init__(directory=directory, html=True)

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        # Module imports are not versioned: let the browser keep files but ask again (ETag) each load.
        response.headers.setdefault("Cache-Control", "no-cache")
        response.headers["X-Content-Type-Options"] = "nosniff"
        if response.media_type == "text/html" or response.headers.get("content-type", "").startswith("text/html"):
            response.headers["Content-Security-Policy"] = _CSP
            response.headers["Referrer-Policy"] = "no-referrer"
        return response
