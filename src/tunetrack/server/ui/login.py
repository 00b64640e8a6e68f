"""The login page of a ``tunetrack server --auth`` and the session it starts.

``GET /login`` shows the form; ``POST /login`` checks the password and answers with the
session cookie (HttpOnly, SameSite=Strict, Secure over HTTPS) and a redirect to the page the
user first asked for; ``POST /logout`` ends the session. API clients keep using HTTP Basic
or tokens: the session cookie counts for the UI's pages only.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from tunetrack.errors import TunetrackError
from tunetrack.server.auth.middleware import LOGIN_PATH, Authenticator
from tunetrack.server.auth.sessions import SESSION_COOKIE
from tunetrack.server.ui.web import form_fields, render


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a path of this server only (never another site)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    return target


def login_router(authenticator: Authenticator) -> APIRouter:
    """``/login`` and ``/logout`` over ``authenticator``'s users and sessions."""
    router = APIRouter(include_in_schema=False)

    @router.get(LOGIN_PATH, response_class=HTMLResponse)
    def login_page(request: Request, next: str = "/") -> HTMLResponse:
        return render(request, "login.html", next=safe_next(next), message="", name="")

    @router.post(LOGIN_PATH, response_class=HTMLResponse)
    async def log_in(request: Request) -> Response:
        try:
            fields = await form_fields(request)
        except TunetrackError as exc:
            return render(request, "login.html", exc.http_status, next="/", message=exc.message,
                          name="")  # fmt: skip
        name, target = fields.get("name", ""), safe_next(fields.get("next"))
        found = await run_in_threadpool(
            authenticator.password_login, name, fields.get("password", "")
        )
        if found is None:
            return render(request, "login.html", 401, next=target, name=name,
                          message="wrong user name or password")  # fmt: skip
        response = RedirectResponse(target, 303)
        response.set_cookie(
            SESSION_COOKIE, authenticator.sessions.issue(name, found[1]),
            max_age=authenticator.sessions.ttl_s, httponly=True, samesite="strict",
            secure=request.url.scheme == "https",
        )  # fmt: skip
        return response

    @router.post("/logout")
    async def log_out(request: Request) -> Response:
        await form_fields(request)  # the CSRF check: no other site logs a user out
        response = RedirectResponse(LOGIN_PATH, 303)
        response.delete_cookie(SESSION_COOKIE)
        return response

    return router
