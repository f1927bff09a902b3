"""A small MCP server (stdio) with clock tools, for examples/mcp_agent.py.

It uses the ``mcp`` SDK's high-level server: ``MCPServer``, the class called ``FastMCP`` before
mcp 2. Run it alone with ``python examples/mcp_server.py`` (it then speaks MCP on stdin/stdout),
or let ``examples/mcp_agent.py`` start it.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from mcp.server.mcpserver import MCPServer

CITY_ZONES = {
    "北京": "Asia/Shanghai",
    "上海": "Asia/Shanghai",
    "Beijing": "Asia/Shanghai",
    "Shanghai": "Asia/Shanghai",
    "Tokyo": "Asia/Tokyo",
    "London": "Europe/London",
    "Paris": "Europe/Paris",
    "New York": "America/New_York",
    "San Francisco": "America/Los_Angeles",
}

server = MCPServer("clock", instructions="Tells the local time in a few cities.")


@server.tool()
def get_city_time(city: str) -> dict[str, str]:
    """Current local time in a city (北京, 上海, Tokyo, London, Paris, New York, San Francisco).

    Args:
        city: the city's name
    """
    zone = CITY_ZONES.get(city.strip())
    if zone is None:
        known = ", ".join(CITY_ZONES)
        raise ValueError(f"unknown city {city!r}; known cities: {known}")
    now = datetime.now(ZoneInfo(zone))
    return {"city": city, "timezone": zone, "time": now.strftime("%Y-%m-%d %H:%M"), "utc_offset": now.strftime("%z")}


@server.tool()
def list_cities() -> list[str]:
    """The cities get_city_time knows."""
    return list(CITY_ZONES)


if __name__ == "__main__":
    server.run()
