"""The office server's application: FastAPI over the same store and library the CLI uses.

Layers, outermost first (:func:`create_app`):

1. :class:`NoFraming` — no page is framed by another site; answers are taken as the type sent.
2. :class:`BodyLimit` — a request body over the upload limit is refused (413) before it is read.
3. :class:`Language` — each request is answered in its reader's language (``?lang=``, else
   the ``sopengine_lang`` cookie, else Bahasa Indonesia), without touching other requests.
4. :class:`MultipartBoundary` — a multipart body's boundary written as the CSRF layer reads
   it; a multipart body without one is refused (400).
5. :class:`SecureCookies` — every cookie is ``Secure`` when the request came over TLS.
6. ``asgi-csrf`` — every unsafe request carrying cookies must carry the ``csrftoken`` form
   field (first in a multipart form, read by :func:`_multipart_token`) or the
   ``x-csrftoken`` header matching its signed cookie; the sign-in form is protected too.
   Requests authenticated by a bearer token carry no ambient credentials and are let through.
7. Starlette's ``SessionMiddleware`` — the signed, HttpOnly, SameSite=Lax session cookie;
   its secret is kept in the database.
8. The routes: pages (:mod:`.pages`, :mod:`.admin`, :mod:`.auditor`), the JSON API
   (:mod:`.api`), sign-in and sign-out here.

Every route that writes calls the library inside ``who.acting()``: the signed-in person —
never a name from the request — is whom the events record, with ``via`` and ``auth``.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs, quote

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.staticfiles import StaticFiles

from sopengine import channel, errors, i18n
from sopengine.i18n import _
from sopengine.store.dialect import is_url
from sopengine.server import auth

HERE = Path(__file__).parent
MiB = 1024 * 1024
DEFAULT_UPLOAD_LIMIT = 20 * MiB
LANG_COOKIE = "sopengine_lang"
SESSION_COOKIE = "sopengine_session"


@dataclass
class ServerConfig:
    """What one ``sopengine serve`` needs: the database, the definitions and its limits.

    ``db`` is an SQLite file's path or a ``postgresql://`` address (a str); everything here
    passes it to the store as it is.
    """

    db: Path | str
    definitions: Path | None = None
    upload_limit: int = DEFAULT_UPLOAD_LIMIT
    secure_cookies: bool = False
    session_hours: int = 10
    extra: dict[str, Any] = field(default_factory=dict)


# -- errors --------------------------------------------------------------------------------------

def status_of(exc: errors.SopError) -> int:
    """The HTTP status that fits a library error."""
    from sopengine.authority import NotAuthorised

    if isinstance(exc, auth.Throttled):
        return 429
    if isinstance(exc, auth.SignInRefused):
        return 401
    if isinstance(exc, (NotAuthorised, errors.NotAssigned)):
        return 403
    if isinstance(exc, (errors.RunNotFound, errors.DefinitionNotFound)) or type(exc).__name__ == "PersonNotFound":
        return 404
    if isinstance(exc, (errors.StepNotOpen, errors.ConcurrentChange, errors.RunClosed, errors.DuplicateRun)):
        return 409
    if isinstance(exc, errors.DatabaseBusy):
        return 503
    if isinstance(exc, errors.StorageUnavailable):
        return 507
    if isinstance(exc, (errors.DatabaseDamaged, errors.StoreError)):
        return 500
    if getattr(exc, "reason", None) == "too_large":
        return 413
    return 400


def error_code(exc: errors.SopError) -> str:
    """A stable word for the error kind: the class name in snake case (``step_not_open``)."""
    name = type(exc).__name__
    return "".join("_" + c.lower() if c.isupper() and i else c.lower() for i, c in enumerate(name))


def api_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path == "/healthz"


# -- the outer layers ------------------------------------------------------------------------------

class BodyLimit:
    """Refuse a request body larger than *limit* bytes (plus room for the form around a file): by
    its Content-Length before reading, or as it streams in without one."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.upload = limit
        # room for the form's other fields: a quarter of a small limit, at most 256 KiB
        self.limit = limit + min(limit // 4, 256 * 1024)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            await self._refuse(scope, receive, send)
            return
        seen = 0
        started = False

        async def counted() -> dict[str, Any]:
            nonlocal seen
            message: dict[str, Any] = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge
            return message

        async def watched(message: dict[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except _TooLarge:
            if not started:
                await self._refuse(scope, receive, send)

    async def _refuse(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        lang = _language_of(scope)
        with i18n.using(lang):
            message = _("the upload is larger than the {limit} MiB the office server accepts; send a smaller file").format(
                limit=f"{self.upload / MiB:.4g}")
        if scope["path"].startswith("/api/"):
            response: Response = api_error(413, "too_large", message)
        else:  # a browser's form: a page it shows, with the way back
            from html import escape

            back = escape(_("Back to the inbox"))
            response = HTMLResponse(
                f'<!doctype html><html lang="{lang}"><meta charset="utf-8"><meta name="viewport" content="width=device-width">'
                f'<link rel="stylesheet" href="/static/office.css"><main><section class="card"><h1>413</h1>'
                f'<p class="flash error" role="alert">{escape(message)}</p>'
                f'<p><a href="/">{back}</a></p></section></main></html>', status_code=413)
        await response(scope, receive, send)


class NoFraming:
    """Headers every answer carries unless its route set them: no page of the server is framed by
    another site (a framed form could be clicked unknowingly), and a browser takes each answer
    as the type it is sent as."""

    HEADERS = ((b"x-frame-options", b"SAMEORIGIN"), (b"content-security-policy", b"frame-ancestors 'self'"),
               (b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"same-origin"))

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def guarded(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                present = {key.lower() for key, _value in headers}
                headers += [(key, value) for key, value in self.HEADERS if key not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, guarded)


class SecureCookies:
    """Mark every cookie ``Secure`` when the request came over HTTPS — directly, or through a proxy
    whose ``X-Forwarded-Proto`` uvicorn trusts (``--forwarded-allow-ips``) — or always when
    *always* (``sopengine serve --secure-cookies``). A browser then never sends the session or
    the CSRF cookie over plain HTTP, while a plain-HTTP test or loopback set-up keeps working."""

    def __init__(self, app: Any, always: bool) -> None:
        self.app = app
        self.always = always

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not (self.always or scope.get("scheme") == "https"):
            await self.app(scope, receive, send)
            return

        async def secured(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = []
                for key, value in message.get("headers") or []:
                    if key.lower() == b"set-cookie" and b"; secure" not in value.lower():
                        value = value + b"; Secure"
                    headers.append((key, value))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, secured)


class _TooLarge(StarletteHTTPException):
    """A body grew past the limit while a route read it (no Content-Length): 413 wherever it is caught."""

    def __init__(self) -> None:
        super().__init__(413)


def _language_of(scope: dict[str, Any]) -> str:
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    wanted = (query.get("lang") or [None])[0]
    if wanted in i18n.LANGUAGES:
        return wanted
    for key, value in scope.get("headers") or []:
        if key == b"cookie":
            for part in value.decode("latin-1").split(";"):
                name, _sep, val = part.strip().partition("=")
                if name == LANG_COOKIE and val in i18n.LANGUAGES:
                    return val
    return i18n.DEFAULT


class Language:
    """Answer each request in its reader's language (see :func:`_language_of`)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with i18n.using(_language_of(scope)) as lang:
            scope.setdefault("state", {})["lang"] = lang
            await self.app(scope, receive, send)


# -- who is signed in ------------------------------------------------------------------------------

class Credentials(BaseModel):
    """``POST /api/token``: a name (or OS login) of the people register and its password."""

    username: str
    password: str


class NotSignedIn(Exception):
    """No valid session or token: 401 for the API, the sign-in page for a browser."""


class Forbidden(Exception):
    def __init__(self, message: str) -> None:
        self.message = message


def config(request: Request) -> ServerConfig:
    return request.app.state.config


def client_address(request: Request) -> str:
    return request.client.host if request.client else "-"


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return None


def who(request: Request) -> auth.Who:
    """The signed-in person (any access level): by bearer token on the API, else by session."""
    from sopengine.store import Store

    cfg = config(request)
    token = _bearer(request)
    with Store(cfg.db, readonly=True) as store:
        if token is not None:
            person = auth.token_person(store, token)
            if person is None:
                raise NotSignedIn
            request.state.who = auth.Who(person, channel.API, "token")
            return request.state.who
        if "pid" not in request.session:
            raise NotSignedIn
        person = auth.session_person(store, request.session, cfg.session_hours)
    if person is None:
        request.session.clear()
        raise NotSignedIn
    via = channel.API if request.url.path.startswith("/api/") else channel.WEB
    found = auth.Who(person, via, "password-session")
    request.state.who = found
    return found


def staff(person: Annotated[auth.Who, Depends(who)]) -> auth.Who:
    """Someone who may act on steps: staff or admin."""
    if person.access == "auditor":
        raise Forbidden(_("{person} has auditor access, which reads only").format(person=person.name))
    return person


def admin(person: Annotated[auth.Who, Depends(who)]) -> auth.Who:
    if person.access != "admin":
        raise Forbidden(_("{person} has {access} access; this needs admin access").format(person=person.name, access=person.access))
    return person


def reader(person: Annotated[auth.Who, Depends(who)]) -> auth.Who:
    """Someone who may read the whole history and audit it: an auditor or an admin."""
    if person.access not in ("auditor", "admin"):
        raise Forbidden(_("{person} has {access} access; the audit pages need auditor or admin access").format(
            person=person.name, access=person.access))
    return person


# -- templates -------------------------------------------------------------------------------------

def templates() -> Jinja2Templates:
    found = Jinja2Templates(directory=str(HERE / "templates"))
    env = found.env
    env.globals["_"] = lambda text, **values: _(text).format(**values) if values else _(text)
    env.autoescape = True
    return found


def page(request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200) -> HTMLResponse:
    """Render template *name* for *request*, with the signed-in person (if any), the CSRF token and flashes."""
    values = {
        "request": request,
        "csrftoken": request.scope["csrftoken"]() if "csrftoken" in request.scope else "",
        "me": getattr(request.state, "who", None),
        "flashes": request.session.pop("flashes", []) if "session" in request.scope else [],
        "lang": i18n.language(),
        **(context or {}),
    }
    response: HTMLResponse = request.app.state.templates.TemplateResponse(request, name, values, status_code=status_code)
    return response


def flash(request: Request, text: str, kind: str = "ok") -> None:
    """A message shown on the next page (after a redirect)."""
    request.session.setdefault("flashes", []).append({"kind": kind, "text": text})


def back(request: Request, url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


# -- the application ---------------------------------------------------------------------------------

def create_app(cfg: ServerConfig) -> Any:
    """The office server's ASGI application over *cfg*'s database."""
    from sopengine.server import admin as admin_pages
    from sopengine.server import api, auditor, pages

    app = FastAPI(
        title="sopengine office server",
        version=_version(),
        description="The JSON API of sopengine's office server: the shapes of the command line's --json output.",
        docs_url=None,  # FastAPI's page loads Swagger UI from a CDN: nothing here is fetched from elsewhere
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.config = cfg
    app.state.templates = templates()
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    @app.exception_handler(errors.SopError)
    async def sop_error(request: Request, exc: errors.SopError) -> Response:
        status = status_of(exc)
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, auth.Throttled) else None
        if wants_json(request):
            return api_error(status, error_code(exc), str(exc), headers)
        return page(request, "error.html", {"status": status, "message": str(exc)}, status_code=status)

    async def driver_error(request: Request, exc: Exception) -> Response:
        # a read outside a transaction that waited too long, a server gone: worded by its cause as
        # the command line words it; anything else is a bug and stays a 500 with its traceback logged
        from sopengine.store.core import translated

        error = translated(exc, cfg.db)
        if error is None:
            raise exc
        return await sop_error(request, error)  # type: ignore[arg-type]

    app.add_exception_handler(sqlite3.Error, driver_error)
    if is_url(cfg.db):
        import psycopg

        app.add_exception_handler(psycopg.Error, driver_error)

    @app.exception_handler(NotSignedIn)
    async def not_signed_in(request: Request, exc: NotSignedIn) -> Response:
        if wants_json(request):
            return api_error(401, "not_signed_in", _("sign in first: POST /api/token, then send 'Authorization: Bearer TOKEN'"),
                             {"WWW-Authenticate": "Bearer"})
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> Response:
        if wants_json(request):
            return api_error(403, "forbidden", exc.message)
        return page(request, "error.html", {"status": 403, "message": exc.message}, status_code=403)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = str(exc.detail)
        if isinstance(exc, _TooLarge) or exc.status_code == 413:
            limit = config(request).upload_limit
            message = _("the upload is larger than the {limit} MiB the office server accepts; send a smaller file").format(
                limit=f"{limit / MiB:.4g}")
            if wants_json(request):
                return api_error(413, "too_large", message)
        elif wants_json(request):
            return api_error(exc.status_code, "http_" + str(exc.status_code), message)
        return page(request, "error.html", {"status": exc.status_code, "message": message}, status_code=exc.status_code)

    from fastapi.exceptions import RequestValidationError

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        parts = []
        for problem in exc.errors():
            where = ".".join(str(x) for x in problem.get("loc", ()) if x != "body")
            parts.append(f"{where}: {problem.get('msg')}" if where else str(problem.get("msg")))
        message = _("the request is not what this address takes: {problems}").format(problems="; ".join(parts))
        if wants_json(request):
            return api_error(400, "invalid_request", message)
        return page(request, "error.html", {"status": 400, "message": message}, status_code=400)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    _sign_in_routes(app)
    app.include_router(api.router)
    app.include_router(pages.router)
    app.include_router(admin_pages.router)
    app.include_router(auditor.router)

    import asgi_csrf as csrf_layer
    from asgi_csrf import asgi_csrf

    csrf_layer._parse_multipart_form_data = _multipart_token  # see _multipart_token
    inner = SessionMiddleware(
        app, secret_key=auth.secret(cfg.db, auth.SESSION_SECRET), session_cookie=SESSION_COOKIE,
        max_age=cfg.session_hours * 3600, same_site="lax",
    )
    protected = asgi_csrf(
        inner, signing_secret=auth.secret(cfg.db, auth.CSRF_SECRET), always_protect={"/login"},
        skip_if_scope=_no_ambient_credentials,
        send_csrf_failed=_csrf_failed,
    )
    outer = NoFraming(BodyLimit(Language(MultipartBoundary(SecureCookies(protected, cfg.secure_cookies))), cfg.upload_limit))
    outer.fastapi = app  # type: ignore[attr-defined]  # for tests and the OpenAPI description
    return outer


async def _multipart_token(boundary: bytes, receive: Any) -> tuple[str | None, Any]:
    """The ``csrftoken`` field of a multipart body, read up to it, and a ``receive`` that replays
    what was read. In place of asgi-csrf's own reader, which passes python-multipart a
    ``FileClass`` argument its current versions no longer take (every upload form failed with
    a 500). As there, a file before the token is refused (:class:`asgi_csrf.FileBeforeToken`).
    """
    from asgi_csrf import FileBeforeToken
    from python_multipart.multipart import MultipartParser, parse_options_header

    messages: list[dict[str, Any]] = []
    header: list[bytes] = []
    value: list[bytes] = []
    headers: dict[bytes, bytes] = {}
    part: dict[str, Any] = {"token": False, "data": []}

    class Found(Exception):
        pass

    def header_end() -> None:
        headers[b"".join(header).strip().lower()] = b"".join(value).strip()
        header.clear()
        value.clear()

    def headers_finished() -> None:
        _kind, options = parse_options_header(headers.get(b"content-disposition"))
        if b"filename" in options:
            raise FileBeforeToken
        part["token"] = options.get(b"name") == b"csrftoken"
        headers.clear()

    def part_data(data: bytes, start: int, end: int) -> None:
        if part["token"]:
            part["data"].append(data[start:end])

    def part_end() -> None:
        if part["token"]:
            raise Found

    parser = MultipartParser(boundary, {
        "on_header_field": lambda data, start, end: header.append(data[start:end]),
        "on_header_value": lambda data, start, end: value.append(data[start:end]),
        "on_header_end": header_end, "on_headers_finished": headers_finished,
        "on_part_data": part_data, "on_part_end": part_end,
    })

    async def replay() -> dict[str, Any]:
        return messages.pop(0) if messages else await receive()

    more = True
    try:
        while more:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            parser.write(message.get("body", b""))
            more = message.get("more_body", False)
    except Found:
        return b"".join(part["data"]).decode("utf-8", "replace"), replay
    return None, replay


class MultipartBoundary:
    """Write a multipart body's boundary as asgi-csrf reads it (``; boundary=X`` exactly: written
    otherwise, as ``;boundary=X`` or quoted, it failed with a 500), and refuse a multipart body
    that names none (400) before any layer reads it."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        from python_multipart.multipart import parse_options_header

        headers = list(scope.get("headers") or []) if scope["type"] == "http" else []
        for i, (key, value) in enumerate(headers):
            if key != b"content-type" or value.split(b";", 1)[0].strip().lower() != b"multipart/form-data":
                continue
            boundary = parse_options_header(value)[1].get(b"boundary")
            if not boundary:
                message = _("the request is not what this address takes: {problems}").format(
                    problems="multipart/form-data without a boundary")
                await api_error(400, "invalid_request", message)(scope, receive, send)
                return
            headers[i] = (key, b"multipart/form-data; boundary=" + boundary)
            scope = {**scope, "headers": headers}
        await self.app(scope, receive, send)


def _no_ambient_credentials(scope: dict[str, Any]) -> bool:
    """A request CSRF cannot abuse: the sign-in for a token (its credentials are in the body), or
    an API call that carries no session cookie (it is refused with 401, or signed in by a bearer
    token, which a browser never adds by itself)."""
    if scope["path"] == "/api/token":
        return True
    if not scope["path"].startswith("/api/"):
        return False
    for key, value in scope.get("headers") or []:
        if key == b"cookie" and (SESSION_COOKIE + "=").encode() in value:
            return False
    return True


async def _csrf_failed(scope: dict[str, Any], send: Any, message_id: Any) -> None:
    message = _("the form's security token is missing or does not match; reload the page and send the form again")
    body = json.dumps({"error": {"code": "csrf", "message": message}}, ensure_ascii=False).encode()
    await send({"type": "http.response.start", "status": 403,
                "headers": [(b"content-type", b"application/json; charset=utf-8")]})
    await send({"type": "http.response.body", "body": body})


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("sopengine")
    except PackageNotFoundError:
        return "0"


# -- sign-in and sign-out ---------------------------------------------------------------------------

def _safe_next(target: str | None) -> str:
    """Only a path of this server: never another site (``//evil``, ``https://...``)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _sign_in_routes(app: FastAPI) -> None:
    from fastapi import Form

    @app.get("/login", include_in_schema=False)
    def login_form(request: Request, next: str = "/") -> HTMLResponse:
        return page(request, "login.html", {"next": _safe_next(next)})

    @app.post("/login", include_in_schema=False)
    def login(request: Request, username: str = Form(""), password: str = Form(""), next: str = Form("/")) -> Response:
        cfg = config(request)
        try:
            person = auth.sign_in(cfg.db, username, password, client_address(request), channel.WEB)
        except auth.Throttled as exc:
            throttled = page(request, "login.html", {"next": _safe_next(next), "error": str(exc), "username": username},
                             status_code=429)
            throttled.headers["Retry-After"] = str(exc.retry_after)
            return throttled
        except auth.SignInRefused as exc:
            return page(request, "login.html", {"next": _safe_next(next), "error": str(exc), "username": username},
                        status_code=401)
        request.session.clear()
        request.session.update(auth.new_session(person))
        return RedirectResponse(_safe_next(next), status_code=303)

    @app.post("/logout", include_in_schema=False)
    def logout(request: Request) -> Response:
        pid = request.session.get("pid")
        if isinstance(pid, int):
            from sopengine.store import Store
            from sopengine.store import server as sql

            with Store(config(request).db, readonly=True) as store:
                person = sql.person_by_id(store.conn, pid)
            if person is not None:
                # the session's id: a copy of its cookie is refused from now on (auth.session_person)
                auth.log(config(request).db, "sign_out", person, client_address(request), channel.WEB,
                         detail=str(request.session.get("sid") or ""))
        request.session.clear()
        return RedirectResponse("/login", status_code=303)

    @app.get("/account/password", include_in_schema=False)
    def password_form(request: Request, me: Annotated[auth.Who, Depends(who)]) -> HTMLResponse:
        return page(request, "account_password.html")

    @app.post("/account/password", include_in_schema=False)
    def change_password(request: Request, me: Annotated[auth.Who, Depends(who)], current: str = Form(""),
                        password: str = Form(""), confirm: str = Form("")) -> Response:
        """Anyone signed in changes their own password, proving the current one first (a sign-in
        attempt: throttled and logged as one). Their other sessions and API tokens end; this
        session goes on with the new password."""
        from sopengine import people
        from sopengine.store import Store
        from sopengine.store import server as sql

        cfg = config(request)
        from sopengine import passwords

        passwords.check_new(password)  # refused (400) before the current password is looked at
        if password != confirm:
            return page(request, "account_password.html",
                        {"error": _("the two new passwords differ; type the same password twice")}, status_code=400)
        try:
            auth.sign_in(cfg.db, me.name, current, client_address(request), channel.WEB)
        except auth.Throttled as exc:
            throttled = page(request, "account_password.html", {"error": str(exc)}, status_code=429)
            throttled.headers["Retry-After"] = str(exc.retry_after)
            return throttled
        except auth.SignInRefused:
            return page(request, "account_password.html", {"error": _("the current password is wrong")}, status_code=403)
        with me.acting():
            people.set_password(cfg.db, me.name, password)
        with Store(cfg.db, readonly=True) as store:
            stored = sql.password_hash(store.conn, me.id)
        request.session.clear()
        request.session.update(auth.new_session({**me.person, "fingerprint": auth.fingerprint(stored)}))
        flash(request, _("Your password is changed; your other sessions and API tokens have ended."))
        return RedirectResponse("/", status_code=303)

    @app.get("/lang/{code}", include_in_schema=False)
    def choose_language(code: str, next: str = "/") -> Response:
        response = RedirectResponse(_safe_next(next), status_code=303)
        if code in i18n.LANGUAGES:
            response.set_cookie(LANG_COOKIE, code, max_age=365 * 86400, samesite="lax", httponly=True)
        return response

    @app.post("/api/token", tags=["auth"], summary="Sign in with a password; answers a bearer token")
    def token(request: Request, body: Credentials) -> dict[str, str]:
        cfg = config(request)
        person = auth.sign_in(cfg.db, body.username, body.password, client_address(request), channel.API)
        return auth.issue_token(cfg.db, person, client_address(request))
