"""The review page: a local web app over an index (``lookalike serve``).

Pages are Jinja2 templates with plain JS and CSS from this package (no CDN, no build step);
they call the JSON API below, whose bodies are exactly what the CLI prints with ``--json``.

Safety: only pictures of the index are served, by id (any other path is a 404); uploads are
limited in bytes and decoded by the same loader, with the same pixel limit, as indexing;
requests that change anything (saving, applying or undoing a plan) need the session token the
page carries, and ``read_only`` refuses them; the Host header must name this machine when it
listens on loopback (no DNS rebinding)."""

from __future__ import annotations

__all__ = ["create_app", "MAX_UPLOAD_BYTES"]

import datetime
import ipaddress
import os
import re
import secrets
import tempfile
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool
from starlette.middleware.trustedhost import TrustedHostMiddleware

from lookalike.models.errors import ImageLoadError, LookalikeError, QueryError

from ..errors import cli_message
from ..common import json_text
from .service import IndexService
from .thumbs import CACHE_FOLDER, THUMB_SIDES, thumbnail

HERE = Path(__file__).parent
MAX_UPLOAD_BYTES = 32 * 1024 * 1024
PLAN_FOLDER = "plans"
_PLAN_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}\.json$")
_STATUS = {"index-not-found": 503, "index-locked": 409, "no-keypoints": 409, "index-corrupt": 503, "index-mismatch": 503,
           "plan-not-found": 404, "not-found": 404, "too-large": 413, "forbidden": 403, "read-only": 403}


class _JSON(JSONResponse):
    """JSON bodies exactly as the CLI prints them (file names that are not UTF-8 escaped)."""

    def render(self, content: Any) -> bytes:
        return json_text(content).encode("utf-8")


class WebError(LookalikeError):
    """A request the page refuses: ``code`` picks the HTTP status."""


def _error(exc: LookalikeError) -> JSONResponse:
    status = _STATUS.get(exc.code, 400 if isinstance(exc, (QueryError, ImageLoadError)) or exc.code.startswith("bad")
                         else 500)
    return _JSON({"error": cli_message(exc), "code": exc.code}, status_code=status)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def create_app(index_dir: str | os.PathLike[str], read_only: bool = False, token: str | None = None,
               host: str = "127.0.0.1", max_upload: int = MAX_UPLOAD_BYTES) -> FastAPI:
    """The app over the index at ``index_dir``. ``token``: the session token state-changing
    requests must send in ``X-Lookalike-Token`` (a random one by default; ``app.state.token``)."""
    directory = Path(index_dir).expanduser().resolve()
    service = IndexService(directory)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        service.close()

    app = FastAPI(title="lookalike", lifespan=lifespan, default_response_class=_JSON, docs_url=None, redoc_url=None, openapi_url="/api/openapi.json")
    app.state.token = token or secrets.token_urlsafe(24)
    app.state.service = service
    if _loopback(host):
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=["127.0.0.1", "localhost", "::1", "[::1]"])
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    templates = Jinja2Templates(directory=HERE / "templates")

    @app.exception_handler(LookalikeError)
    async def _lookalike_error(request: Request, exc: LookalikeError) -> Response:
        if request.url.path.startswith("/api/"):
            return _error(exc)
        return templates.TemplateResponse(request, "problem.html", _page(exc), status_code=_error(exc).status_code)

    def _page(problem: LookalikeError | None = None, **extra: Any) -> dict[str, Any]:
        return {"index_dir": str(directory), "token": app.state.token, "read_only": read_only,
                "problem": cli_message(problem) if problem else "", **extra}

    def _require_write(request: Request) -> None:
        sent = request.headers.get("x-lookalike-token", "")
        if not secrets.compare_digest(sent.encode(), app.state.token.encode()):
            raise WebError("this request needs the page's session token (reload the page)", code="forbidden")
        if read_only:
            raise WebError("the server runs read-only: plans cannot be saved or applied here", code="read-only")

    async def _page_response(request: Request, name: str) -> Response:
        problem = await service.problem()
        if problem is not None:
            return templates.TemplateResponse(request, "problem.html", _page(problem),
                                              status_code=_error(problem).status_code)
        return templates.TemplateResponse(request, name, _page(page=name.split(".")[0]))

    # -- pages ---------------------------------------------------------------------------------
    @app.get("/", response_class=HTMLResponse)
    async def search_page(request: Request) -> Response:
        return await _page_response(request, "search.html")

    @app.get("/dupes", response_class=HTMLResponse)
    async def dupes_page(request: Request) -> Response:
        return await _page_response(request, "dupes.html")

    @app.get("/regions", response_class=HTMLResponse)
    async def regions_page(request: Request) -> Response:
        return await _page_response(request, "regions.html")

    # -- API: the CLI's JSON -------------------------------------------------------------------
    @app.get("/api/info")
    async def info() -> dict[str, Any]:
        return (await service.run(lambda ix: ix.info())).to_dict()

    @app.get("/api/dupes")
    async def dupes(regions: int = 0, min_score: float | None = None) -> dict[str, Any]:
        if min_score is not None and not 0.0 <= min_score <= 1.0:
            raise WebError("min_score must be between 0 and 1", code="bad-min-score")
        report = await service.cached(("dupes", bool(regions), min_score),
                                      lambda ix: ix.duplicates(regions=bool(regions), min_score=min_score))
        return report.to_dict()

    @app.post("/api/search")
    async def search(request: Request, k: int = 12, min_score: float | None = None, regions: int = 0) -> dict[str, Any]:
        from lookalike.indexer.results import SearchResult

        k = max(1, min(int(k), 100))
        ctype = request.headers.get("content-type", "")
        if ctype.startswith("multipart/form-data"):
            name, data = await _upload(request, max_upload)
            suffix = Path(name).suffix if re.fullmatch(r"\.[A-Za-z0-9]{1,8}", Path(name).suffix) else ""
            with tempfile.TemporaryDirectory(prefix="lookalike-upload-") as tmp:
                path = Path(tmp) / f"upload{suffix}"
                path.write_bytes(data)
                try:
                    hits = await service.run(lambda ix: ix.search(path, k=k, min_score=min_score))
                    shared = await service.run(lambda ix: ix.search_regions(path, k=k)) if regions else None
                except QueryError as exc:
                    if exc.code != "query-unreadable":
                        raise
                    reason = exc.details.get("reason", "")
                    raise WebError(str(exc).replace(str(path), name),
                                   code="too-large" if reason == "too-large" else "bad-image") from None
            return SearchResult(name, hits, regions=shared).to_dict()
        try:
            body = await request.json()
        except ValueError:
            raise WebError("send an image as multipart field \"file\", or JSON {\"path\": p}", code="bad-request") from None
        path = body.get("path") if isinstance(body, dict) else None
        if not isinstance(path, str) or not path:
            raise WebError("send an image as multipart field \"file\", or JSON {\"path\": p}", code="bad-request")
        known = await service.run(lambda ix: ix.pictures(paths=[path]))
        if not known:
            raise WebError(f"{path} is not a picture of this index", code="not-found")
        hits = await service.run(lambda ix: ix.search(path, k=k, min_score=min_score))
        shared = await service.run(lambda ix: ix.search_regions(path, k=k)) if regions else None
        return SearchResult(path, hits, regions=shared).to_dict()

    # -- API: pictures -------------------------------------------------------------------------
    @app.post("/api/pictures")
    async def pictures(request: Request) -> dict[str, Any]:
        body = await _json_body(request)
        paths = [p for p in body.get("paths", []) if isinstance(p, str)][:5000]
        ids = [i for i in body.get("ids", []) if isinstance(i, int)][:5000]
        found = await service.run(lambda ix: ix.pictures(ids=ids, paths=paths))
        return {"pictures": [p.to_dict() for p in found]}

    @app.get("/api/thumb/{image_id}")
    async def thumb(image_id: str, side: int = THUMB_SIDES[0]) -> Response:
        if not image_id.isdigit() or side not in THUMB_SIDES:
            raise WebError("no such picture", code="not-found")
        found = await service.run(lambda ix: ix.pictures(ids=[int(image_id)]))
        if not found:
            raise WebError("no such picture", code="not-found")
        pic = found[0]
        try:  # only the file the catalog described: a path swapped for a link to another file is refused
            st = os.stat(pic.path)
            if (st.st_size, st.st_mtime_ns) != (pic.size, pic.mtime_ns) or not os.path.isfile(pic.path):
                raise WebError("this picture changed since it was indexed (index it again)", code="not-found")
        except OSError:
            raise WebError("this picture's file is gone (index again to drop it)", code="not-found") from None
        try:
            data = await run_in_threadpool(thumbnail, directory / CACHE_FOLDER, pic.id, pic.path, pic.mtime_ns, side)
        except ImageLoadError as exc:
            raise WebError(f"{pic.path}: {exc.reason.value}", code="not-found") from None
        return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})

    # -- API: plans ----------------------------------------------------------------------------
    @app.get("/api/plans")
    async def plans() -> dict[str, Any]:
        folder = directory / PLAN_FOLDER
        names = sorted((p.name for p in folder.glob("*.json") if _PLAN_NAME.match(p.name)
                        and not p.name.endswith(".journal.json")), reverse=True) if folder.is_dir() else []
        return {"plans": names}

    @app.post("/api/preselect")
    async def preselect_plan(request: Request) -> dict[str, Any]:
        """A plan (not saved) keeping in each group the picture ``rule`` prefers."""
        from lookalike.indexer.plan import group_pictures, preselect

        body = await _json_body(request)
        groups = body.get("groups")
        if not isinstance(groups, list) or not all(isinstance(g, list) for g in groups):
            raise WebError("send {\"rule\": r, \"groups\": [[paths]]}", code="bad-request")
        rule = str(body.get("rule") or "")
        return (await service.run(lambda ix: preselect(group_pictures(ix, groups), rule, str(directory)))).to_dict()

    @app.post("/api/plan")
    async def save_plan(request: Request) -> dict[str, Any]:
        from lookalike.indexer.plan import Plan

        _require_write(request)
        body = await _json_body(request)
        plan = Plan.from_dict({"lookalike_plan": 1, "index": str(directory), "rule": body.get("rule") or "",
                               "groups": body.get("groups")})
        name = datetime.datetime.now().strftime("plan-%Y%m%d-%H%M%S-%f.json")
        (directory / PLAN_FOLDER).mkdir(exist_ok=True)
        plan.save(directory / PLAN_FOLDER / name)
        return {"plan": name, "path": str(directory / PLAN_FOLDER / name), **plan.to_dict()}

    @app.post("/api/apply")
    async def apply(request: Request) -> dict[str, Any]:
        from lookalike.indexer.plan import apply_plan, undo_plan

        _require_write(request)
        body = await _json_body(request)
        path = _plan_path(directory, body.get("plan"))
        dry = bool(body.get("dry_run"))
        if body.get("undo"):
            report = await service.run(lambda ix: undo_plan(ix, path, dry_run=dry))
        else:
            report = await service.run(lambda ix: apply_plan(ix, path, dry_run=dry))
        return report.to_dict()

    return app


def _plan_path(directory: Path, name: Any) -> Path:
    if not isinstance(name, str) or not _PLAN_NAME.match(name) or name.endswith(".journal.json"):
        raise WebError("name a plan saved in this index (plan-....json)", code="plan-not-found")
    path = directory / PLAN_FOLDER / name
    if not path.is_file():
        raise WebError(f"no plan {name} in this index", code="plan-not-found")
    return path


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise WebError("the request body must be a JSON object", code="bad-request") from None
    if not isinstance(body, dict):
        raise WebError("the request body must be a JSON object", code="bad-request")
    return body


async def _upload(request: Request, limit: int) -> tuple[str, bytes]:
    """The uploaded ``file`` field: its name and at most ``limit`` bytes (else a 413)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + 64 * 1024:
        raise WebError(f"the upload is larger than {_size(limit)}", code="too-large")
    form = await request.form(max_files=1, max_fields=8)
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        raise WebError("send the image in the multipart field \"file\"", code="bad-request")
    data = await upload.read(limit + 1)
    await form.close()
    if len(data) > limit:
        raise WebError(f"the upload is larger than {_size(limit)}", code="too-large")
    if not data:
        raise WebError("the upload is empty", code="bad-image")
    return os.path.basename(upload.filename or "upload"), data


def _size(n: int) -> str:
    return f"{n / (1024 * 1024):g} MiB" if n >= 1024 * 1024 else f"{n / 1024:g} KiB"
