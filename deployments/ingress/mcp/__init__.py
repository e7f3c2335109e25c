"""The arm over MCP: ``/mcp`` on the Ingress (streamable HTTP, stateless, JSON answers).

``tools``: the tools, thin wrappers over the replica's request flow with typed arguments and
answers. ``server``: the per-process ``MCPServer``, the lifespan that runs its session manager
(``session``) and the route's state-free ASGI shim (``McpEndpoint``), with why the server is
kept out of the app that Serve pickles.
"""

from deployments.ingress.mcp.server import McpEndpoint, session

__all__ = ["McpEndpoint", "session"]
