"""The HTTP API: the FastAPI app, one module per door, the admin routes."""

#: where the admin API lives (served by the admin function alone when deployed)
ADMIN_PREFIX = "/admin"
