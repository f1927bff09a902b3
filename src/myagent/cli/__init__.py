"""Command-line entry points (``myagent server …``)."""
