"""The weather agent from the user's guide.

Serve it with::

    myagent server examples/weather_agent.py --port 8080

With no model endpoint configured it runs on the offline model: ask "北京和上海的天气怎么样？" or
"订阅上海的天气预警" (the second tool asks for your confirmation first).
"""

from __future__ import annotations

from typing import Literal

from myagent import create_toolcall_agent
from myagent.agent import ToolCallAgent
from myagent.tool import BaseTool, ToolResult

City = Literal["北京", "上海", "广州", "深圳"]

_FORECASTS: dict[str, dict[str, tuple[str, int, int]]] = {
    "北京": {"today": ("晴", 12, 24), "tomorrow": ("多云", 10, 21)},
    "上海": {"today": ("小雨", 18, 23), "tomorrow": ("阴", 17, 22)},
    "广州": {"today": ("雷阵雨", 24, 31), "tomorrow": ("多云", 25, 32)},
    "深圳": {"today": ("多云", 25, 30), "tomorrow": ("晴", 26, 31)},
}


class GetWeather(BaseTool):
    name = "get_weather"
    description = "查询城市天气（今天或明天）。Get the weather forecast for a city."

    async def execute(self, city: City, date: Literal["today", "tomorrow"] = "today") -> ToolResult:
        """Look up the forecast.

        Args:
            city: 城市名，支持 北京、上海、广州、深圳
            date: today 或 tomorrow
        """
        sky, low, high = _FORECASTS[city][date]
        label = "今天" if date == "today" else "明天"
        return ToolResult(
            output=f"{city}{label}{sky}，{low}~{high}°C",
            data={"city": city, "date": date, "sky": sky, "low": low, "high": high},
        )


class SubscribeWeatherAlert(BaseTool):
    name = "subscribe_weather_alert"
    description = "订阅城市的恶劣天气预警短信（需要用户确认）。Subscribe to severe-weather alerts."
    user_confirm = True

    async def execute(self, city: City) -> ToolResult:
        """Subscribe the user to alerts.

        Args:
            city: 要订阅预警的城市
        """
        return ToolResult(output=f"已为{city}订阅恶劣天气预警")


def create_agent() -> ToolCallAgent:
    """A fresh agent for each session."""
    return create_toolcall_agent(
        tools=[GetWeather(), SubscribeWeatherAlert()],
        name="weather_agent",
        description="天气助手：查询北京、上海、广州、深圳的天气",
    )


agent = create_agent()
