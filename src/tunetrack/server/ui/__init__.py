"""The web UI: server-rendered pages over a tracking store (``mount_ui`` adds them to an app)."""

from tunetrack.server.ui.routes import mount_ui, ui_router

__all__ = ["mount_ui", "ui_router"]
