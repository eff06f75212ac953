"""The console's web application: server-rendered pages, one small script for live decisions.

Served by ``lodestone console run`` under ``/console``. It reads the audit store as the auditor
role (the views only) and follows ``decisions.v1``; a reviewer's release goes to ``reviews.v1``
(:mod:`services.console.reviews`). No asset comes from anywhere but this process.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any

import asyncpg
from fastapi import Depends, FastAPI, Form, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.sse import EventSourceResponse, ServerSentEvent
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from services.audit.evidence_pack import build_pack, verify_pack
from services.audit.presentation import jsonable
from services.audit.queries import (
    DecisionFilter,
    list_decisions,
)
from services.audit.verify_command import verify_store
from services.common.privileges import check_least_privilege
from services.common.signing import KeyFileError, KeyRing
from services.console import data
from services.console.auth import Directory, Sessions, User, UserEntry, csrf_ok
from services.console.catalogue_view import catalogue_page
from services.console.decision_view import decision_page
from services.console.live import DecisionFeed
from services.console.metrics import ConsoleMetrics
from services.console.reviews import ReviewDesk

HERE = Path(__file__).parent
COOKIE = "lodestone_console"
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
    " connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)


@dataclass(frozen=True)
class ConsoleOptions:
    """Everything the console needs, given by the command line or a test."""

    auditor_dsn: str
    users: list[UserEntry]
    kafka_bootstrap: str
    topic_decisions: str
    topic_reviews: str
    checkpoint_file: Path
    decision_keys: KeyRing
    """The trusted keys of decision signatures: the live view shows only signed decisions."""
    anchor_file: Path | None = None
    log_public_key_file: Path | None = None
    session_minutes: int = 480
    secure_cookies: bool = False


class SignInRequiredError(Exception):
    """Raised by :func:`signed_in` for a page asked without a session or a bearer token."""


def signed_in(request: Request) -> User:
    """The user of a request: its session cookie, else its bearer token."""
    sessions: Sessions = request.app.state.sessions
    session = sessions.get(request.cookies.get(COOKIE))
    if session is not None:
        request.state.csrf = session.csrf_token
        return session.user
    directory: Directory = request.app.state.directory
    user = directory.from_bearer(request.headers.get("authorization"))
    if user is None:
        raise SignInRequiredError
    request.state.csrf = ""
    return user


Viewer = Annotated[User, Depends(signed_in)]


def create_console(options: ConsoleOptions) -> FastAPI:
    directory = Directory(options.users)
    sessions = Sessions(options.session_minutes * 60.0)
    metrics = ConsoleMetrics()
    feed = DecisionFeed(
        options.kafka_bootstrap, options.topic_decisions, options.decision_keys, metrics
    )
    desk = ReviewDesk(options.kafka_bootstrap, options.topic_reviews, metrics)
    templates = Jinja2Templates(directory=HERE / "templates")
    keys = _log_keys(options.log_public_key_file)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.pool = await asyncpg.create_pool(options.auditor_dsn, min_size=1, max_size=5)
        try:
            async with app.state.pool.acquire() as conn:
                await check_least_privilege(conn)  # read-only: never an owner
            await feed.start()
            await desk.start()
            yield
        finally:
            await desk.stop()
            await feed.stop()
            await app.state.pool.close()

    app = FastAPI(title="Lodestone console", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.feed = feed
    app.state.sessions = sessions
    app.state.directory = directory
    app.state.desk = desk
    app.state.metrics = metrics
    app.mount("/console/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if request.method == "POST" and not _same_origin(request):
            return Response("cross-origin form refused", status_code=403)
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = _CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"  # no-referrer would make Origin "null"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.exception_handler(SignInRequiredError)
    async def to_sign_in(request: Request, exc: SignInRequiredError) -> Response:
        if "text/html" not in request.headers.get("accept", ""):
            return JSONResponse({"detail": "sign in required"}, status_code=401)
        return RedirectResponse("/console/login", status_code=status.HTTP_303_SEE_OTHER)

    def render(request: Request, name: str, user: User | None, **context: Any) -> HTMLResponse:
        context |= {"user": user, "csrf": getattr(request.state, "csrf", ""), "page": name}
        return templates.TemplateResponse(request, f"{name}.html", context)

    def forbid(user: User, allowed: bool) -> None:
        if not allowed:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"not allowed for a {user.role}")

    @app.get("/console/login", response_class=HTMLResponse)
    async def login_form(request: Request) -> HTMLResponse:
        return render(request, "login", None, error=None)

    @app.post("/console/login", response_model=None)
    async def login(
        request: Request,
        user_id: Annotated[str, Form(max_length=64)],
        secret: Annotated[str, Form(max_length=512)],
    ) -> Response:
        user = await asyncio.to_thread(directory.authenticate, user_id, secret)
        metrics.sign_ins.labels("refused" if user is None else "ok").inc()
        if user is None:
            refused = render(request, "login", None, error="unknown user or wrong secret")
            refused.status_code = status.HTTP_401_UNAUTHORIZED
            return refused
        sessions.close(request.cookies.get(COOKIE))  # a new id at every sign-in
        session_id, _ = sessions.open(user)
        response = RedirectResponse("/console/holds", status_code=status.HTTP_303_SEE_OTHER)
        response.set_cookie(
            COOKIE,
            session_id,
            httponly=True,
            samesite="strict",
            secure=options.secure_cookies,
            path="/console",
            max_age=options.session_minutes * 60,
        )
        return response

    @app.post("/console/logout")
    async def logout(
        request: Request, user: Viewer, csrf_token: Annotated[str, Form()] = ""
    ) -> RedirectResponse:
        _check_csrf(sessions, request, csrf_token)
        sessions.close(request.cookies.get(COOKIE))
        response = RedirectResponse("/console/login", status_code=status.HTTP_303_SEE_OTHER)
        response.delete_cookie(COOKIE, path="/console")
        return response

    # Probes and metrics: no sign-in, nothing about any decision (as the audit API's).
    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> Response:
        """Liveness: the process answers (no database round trip)."""
        return Response("ok\n", media_type="text/plain")

    @app.get("/readyz", include_in_schema=False)
    async def readyz(request: Request) -> Response:
        """Readiness: the audit store answers within two seconds (every page reads it). The
        topics followed are reported but do not fail readiness: the pages work without them."""
        detail = (
            f"live decisions: {'following' if feed.following else 'retrying'}\n"
            f"reviews: {'following' if desk.following else 'retrying'}\n"
        )
        try:
            async with request.app.state.pool.acquire(timeout=2) as conn:
                await conn.fetchval("SELECT 1", timeout=2)
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
            return Response("not ready\n" + detail, status_code=503, media_type="text/plain")
        return Response("ready\n" + detail, media_type="text/plain")

    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/console")
    @app.get("/console/")
    async def home() -> RedirectResponse:
        return RedirectResponse("/console/holds", status_code=status.HTTP_303_SEE_OTHER)

    @app.get("/console/holds", response_class=HTMLResponse)
    async def holds(
        request: Request,
        user: Viewer,
        reason: Annotated[str | None, Query(max_length=64)] = None,
        measure: Annotated[str | None, Query(max_length=128)] = None,
        exporter: Annotated[str | None, Query(max_length=128)] = None,
        older_than_hours: Annotated[int | None, Query(ge=0, le=100_000)] = None,
    ) -> HTMLResponse:
        f = data.HoldFilter(reason or None, measure or None, exporter or None, older_than_hours)
        now = datetime.now(UTC)
        async with request.app.state.pool.acquire() as conn:
            rows = await data.open_holds(conn, f, now)
            facets = await data.hold_facets(conn)
        return render(request, "holds", user, rows=rows, f=f, facets=facets, now=now)

    @app.get("/console/decisions/{decision_id}", response_class=HTMLResponse)
    async def decision(request: Request, user: Viewer, decision_id: str) -> HTMLResponse:
        async with request.app.state.pool.acquire() as conn:
            page = await decision_page(conn, decision_id, keys)
        if page is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such decision")
        reviews = desk.reviews_of(page.decision_id)
        return render(request, "decision", user, d=page, reviews=reviews)

    @app.post("/console/decisions/{decision_id}/review", response_model=None)
    async def review(
        request: Request,
        user: Viewer,
        decision_id: str,
        justification: Annotated[str, Form(min_length=10, max_length=1024)],
        line_nos: Annotated[list[int], Form()],
        csrf_token: Annotated[str, Form()] = "",
    ) -> Response:
        forbid(user, user.may_review)
        _check_csrf(sessions, request, csrf_token)
        async with request.app.state.pool.acquire() as conn:
            page = await decision_page(conn, decision_id, None)
        if page is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such decision")
        problem = await desk.release(page, user, sorted(set(line_nos)), justification)
        if problem is not None:
            raise HTTPException(status.HTTP_409_CONFLICT, problem)
        return RedirectResponse(
            f"/console/decisions/{decision_id}", status_code=status.HTTP_303_SEE_OTHER
        )

    @app.get("/console/licences", response_class=HTMLResponse)
    async def licences(request: Request, user: Viewer) -> HTMLResponse:
        async with request.app.state.pool.acquire() as conn:
            views = await data.licences(conn)
        return render(request, "licences", user, licences=views, today=date.today())

    @app.get("/console/catalogue", response_class=HTMLResponse)
    async def catalogue(request: Request, user: Viewer, on: date | None = None) -> HTMLResponse:
        day = on or date.today()
        async with request.app.state.pool.acquire() as conn:
            cat, problem = await data.newest_catalogue(conn)
        page = catalogue_page(cat, day) if cat is not None else None
        return render(request, "catalogue", user, c=page, problem=problem, on=day)

    @app.get("/console/live", response_class=HTMLResponse)
    async def live(request: Request, user: Viewer) -> HTMLResponse:
        async with request.app.state.pool.acquire() as conn:
            recent = await data.recent_decisions(conn)
        return render(request, "live", user, recent=recent)

    @app.get("/console/live/stream", response_class=EventSourceResponse)
    async def live_stream(user: Viewer) -> AsyncIterator[ServerSentEvent]:
        async with feed.subscribe() as queue:
            yield ServerSentEvent(event="ready", data={})
            while True:
                kind, data = await queue.get()
                yield ServerSentEvent(event=kind, data=data)

    @app.get("/console/audit", response_class=HTMLResponse)
    async def audit(
        request: Request,
        user: Viewer,
        shipment_id: Annotated[str | None, Query(max_length=128)] = None,
        exporter_id: Annotated[str | None, Query(max_length=128)] = None,
        outcome: Annotated[str | None, Query(pattern="^(approve|hold|)$")] = None,
        reason: Annotated[str | None, Query(max_length=64)] = None,
        control_id: Annotated[str | None, Query(max_length=128)] = None,
        license_id: Annotated[str | None, Query(max_length=128)] = None,
        since: Annotated[str | None, Query(max_length=40)] = None,
        until: Annotated[str | None, Query(max_length=40)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> HTMLResponse:
        forbid(user, user.may_audit)
        f = DecisionFilter(
            shipment_id or None,
            exporter_id or None,
            outcome or None,
            reason or None,
            control_id or None,
            license_id or None,
            _when(since),
            _when(until),
        )
        async with request.app.state.pool.acquire() as conn:
            rows = [jsonable(r) for r in await list_decisions(conn, f, limit=limit)]
        return render(request, "audit", user, rows=rows, f=f, limit=limit, verified=None)

    @app.post("/console/audit/verify", response_class=HTMLResponse)
    async def verify(
        request: Request,
        user: Viewer,
        csrf_token: Annotated[str, Form()] = "",
        full: Annotated[bool, Form()] = False,
    ) -> HTMLResponse:
        forbid(user, user.may_audit)
        _check_csrf(sessions, request, csrf_token)
        lines: list[str] = []
        code = await verify_store(
            full=full,
            checkpoint_file=options.checkpoint_file,
            anchor_file=options.anchor_file,
            log_public_key=options.log_public_key_file,
            connect=lambda: asyncpg.connect(options.auditor_dsn),
            echo=lines.append,
            progress=lambda _: None,
        )
        verified = {"ok": code == 0, "lines": lines, "full": full}
        return render(request, "audit", user, rows=[], f=DecisionFilter(), limit=100,
                      verified=verified)  # fmt: skip

    @app.get("/console/audit/packs/{shipment_id}")
    async def evidence_pack(request: Request, user: Viewer, shipment_id: str) -> Response:
        forbid(user, user.may_audit)
        async with request.app.state.pool.acquire() as conn:
            try:
                pack = await build_pack(conn, shipment_id)
            except LookupError as exc:
                raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in shipment_id)
        return Response(
            json.dumps(pack, indent=2, ensure_ascii=False),
            media_type="application/json",
            headers={"Content-Disposition": f'attachment; filename="evidence-{safe}.json"'},
        )

    @app.get("/console/audit/packs/{shipment_id}/check")
    async def pack_check(request: Request, user: Viewer, shipment_id: str) -> dict[str, Any]:
        """The pack's offline check, as ``lodestone audit verify-pack`` would run it."""
        forbid(user, user.may_audit)
        async with request.app.state.pool.acquire() as conn:
            try:
                pack = await build_pack(conn, shipment_id)
            except LookupError as exc:
                raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
        return {"shipment_id": shipment_id, "problems": verify_pack(pack, keys)}

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if "text/html" not in request.headers.get("accept", ""):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)
        session = sessions.get(request.cookies.get(COOKIE))
        response = render(
            request, "error", session.user if session else None, code=exc.status_code,
            detail=exc.detail,
        )  # fmt: skip
        response.status_code = exc.status_code
        return response

    return app


def _check_csrf(sessions: Sessions, request: Request, presented: str) -> None:
    """Forms need the session's CSRF token; a bearer-token client has no cookie to ride on."""
    session = sessions.get(request.cookies.get(COOKIE))
    if session is None and request.headers.get("authorization"):
        return
    if not csrf_ok(session, presented):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "the form's CSRF token is missing or wrong")


def _same_origin(request: Request) -> bool:
    """A browser's POST names its origin; it must be this console's."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    host = request.headers.get("host", "")
    return origin.split("://", 1)[-1] == host


def _when(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"not a date or time: {text}") from exc
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _log_keys(path: Path | None) -> KeyRing | None:
    if path is None:
        return None
    try:
        return KeyRing.from_files([path])
    except KeyFileError:
        return None
