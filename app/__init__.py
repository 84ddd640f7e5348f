"""The HTTP layer: FastAPI factory, routers, request schemas, error mapping, settings, CLI."""
