"""MCP ``tools/call`` results as :class:`~myagent.tool.ToolResult`."""

from __future__ import annotations

from typing import Any

import mcp_types

from myagent.tool.result import ToolResult

__all__ = ["to_tool_result"]


def to_tool_result(result: mcp_types.CallToolResult) -> ToolResult:
    """Text blocks become the output the model reads, ``structuredContent`` the client's ``data``.

    The first image becomes ``base64_image``; other blocks (audio, resources) are named in the
    text so the model knows they exist. ``isError`` results become tool errors.
    """
    texts: list[str] = []
    image: str | None = None
    for block in result.content:
        if isinstance(block, mcp_types.TextContent):
            texts.append(block.text)
        elif isinstance(block, mcp_types.ImageContent) and image is None:
            image = block.data
        else:
            texts.append(_describe_block(block))
    text = "\n".join(texts)
    structured = result.structured_content
    if result.is_error:
        return ToolResult(error=text or "the MCP tool reported an error without a message", data=structured)
    output: Any = text if texts else None
    return ToolResult(output=output, data=structured, base64_image=image)


def _describe_block(block: Any) -> str:
    if isinstance(block, mcp_types.ImageContent):
        return f"[image {block.mime_type}]"
    if isinstance(block, mcp_types.AudioContent):
        return f"[audio {block.mime_type}]"
    if isinstance(block, mcp_types.ResourceLink):
        return f"[resource {block.uri}]"
    if isinstance(block, mcp_types.EmbeddedResource):
        resource = block.resource
        if isinstance(resource, mcp_types.TextResourceContents):
            return resource.text
        return f"[resource {resource.uri} ({resource.mime_type or 'binary'})]"
    return f"[{getattr(block, 'type', 'content')}]"
