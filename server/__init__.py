"""parallel-work-manager: an MCP server that routes coding tasks to the right model and runs them in parallel."""

__version__ = "0.1.0"
__all__ = ["__version__"]
