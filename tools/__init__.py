"""MCP tool wrappers: validate input, call the engine, shape the output. Logic lives in `server/`."""
