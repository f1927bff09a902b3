"""AG-UI: serve any myagent agent to AG-UI frontends (CopilotKit and others) at ``POST /agui``.

``create_app`` mounts it; see docs/integrations.md for the event mapping and what does not map.
"""

from __future__ import annotations

from myagent.agui.endpoint import AGUIEndpoint

__all__ = ["AGUIEndpoint"]
