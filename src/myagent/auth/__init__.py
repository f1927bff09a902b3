"""Who may use the server: principals, authenticators, token verifiers, the Origin allowlist, limits.

Building blocks with no I/O of their own; the WebSocket server calls them at the handshake and
per frame (see ``docs/security.md``).
"""

from __future__ import annotations
