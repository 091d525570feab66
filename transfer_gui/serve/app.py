"""The HTTP face of the service (FastAPI): `POST /predict`, `GET /model`, `GET /health`, and
the OpenAPI page at `/docs`. Every refusal is JSON `{"error": "..."}` with a 4xx status."""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from typing import Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from .. import __version__
from . import MAX_BODY
from .limits import BodyLimit
from .service import MAX_IMAGES, Ask, ServeError, Service

FIELD = "image"
_BODY_DOC = {"requestBody": {"required": True, "content": {
    "multipart/form-data": {"schema": {"type": "object", "properties": {FIELD: {
        "type": "array", "items": {"type": "string", "format": "binary"}}}}},
    "application/json": {"schema": {"type": "object", "properties": {
        "image": {"type": "string", "description": "one image, base64 (a data: URL too)"},
        "images": {"type": "array", "items": {"type": "string"}},
        "top_k": {"type": "integer"}, "uncertain_below": {"type": "number"},
        "threshold": {"type": "number"}}}},
}}}


def create_app(service: Service, token: str | None = None, max_body: int = MAX_BODY) -> Any:
    """The ASGI application: FastAPI under the body-size limit."""
    app = FastAPI(title="transfer-gui prediction server", version=__version__,
                  description="Classify images with a trained run: POST /predict.")
    guard = [Depends(_bearer(token))] if token else []
    _add_handlers(app, service)

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", **service.stats.snapshot()}

    @app.get("/model", dependencies=guard)
    def model() -> dict[str, Any]:
        return service.model()

    @app.post("/predict", dependencies=guard, openapi_extra=_BODY_DOC)
    async def predict(
        request: Request,
        top_k: int | None = Query(None, description="classes in each answer (default 5)"),
        uncertain_below: float | None = Query(
            None, description="flag an answer whose top class is under this probability"),
        threshold: float | None = Query(
            None, description="a multi-label task's cut for every label (default: the run's)"),
    ) -> Any:
        uploads, options = await _uploads(request)
        ask = _ask(options, top_k, uncertain_below, threshold)
        answers = await run_in_threadpool(service.predict, uploads, ask)
        return answers[0] if len(answers) == 1 else {"predictions": answers}

    return BodyLimit(app, max_body)


def _bearer(token: str) -> Any:
    expected = f"Bearer {token}".encode()

    def check(request: Request) -> None:
        given = request.headers.get("authorization", "").encode()
        if not secrets.compare_digest(given, expected):
            raise ServeError("missing or wrong token: send the header "
                             "'Authorization: Bearer TOKEN'", 401)

    return check


def _add_handlers(app: FastAPI, service: Service) -> None:
    def answer(status: int, text: str) -> JSONResponse:
        if status >= 400:
            service.stats.add(0.0, ok=False)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return JSONResponse({"error": text}, status_code=status, headers=headers)

    @app.exception_handler(ServeError)
    async def refused(_request: Request, exc: ServeError) -> JSONResponse:
        return answer(exc.status, str(exc))

    @app.exception_handler(HTTPException)
    async def http_error(_request: Request, exc: HTTPException) -> JSONResponse:
        return answer(exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        where = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return answer(422, f"invalid request: {where}")

    @app.exception_handler(Exception)
    async def failed(_request: Request, exc: Exception) -> JSONResponse:
        return answer(500, f"the server failed on this request ({type(exc).__name__}: {exc})")


async def _uploads(request: Request) -> tuple[list[tuple[str, bytes]], dict[str, Any]]:
    """The images of a multipart or JSON body, and the JSON body's options."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        form = await request.form(max_files=MAX_IMAGES + 1)
        files = [f for f in form.getlist(FIELD) if isinstance(f, UploadFile)]
        if not files and form.getlist(FIELD):
            raise ServeError(f"the field '{FIELD}' holds text, not a file upload")
        return [(f.filename or FIELD, await f.read()) for f in files], {}
    body = await request.body()
    if not body:
        raise ServeError("empty request body: send an image as the multipart field "
                         f"'{FIELD}' or JSON {{\"image\": BASE64}}")
    if kind not in ("application/json", ""):
        raise ServeError(f"unsupported content type {kind!r}: use multipart/form-data or "
                         "application/json", 415)
    return _json_images(body)


def _json_images(body: bytes) -> tuple[list[tuple[str, bytes]], dict[str, Any]]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ServeError(f"the body is not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ServeError("the JSON body must be an object with 'image' or 'images'")
    items = data.get("images", [])
    items = [data["image"], *items] if "image" in data else items
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise ServeError("'image' must be a base64 string and 'images' a list of them")
    names = [f"images[{i}]" for i in range(len(items))]
    return [(n, _unbase64(n, text)) for n, text in zip(names, items, strict=True)], data


def _unbase64(name: str, text: str) -> bytes:
    if text.startswith("data:") and "," in text:  # a data URL: data:image/png;base64,....
        text = text.split(",", 1)[1]
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ServeError(f"{name}: not valid base64") from None


def _ask(options: dict[str, Any], top_k: int | None, uncertain_below: float | None,
         threshold: float | None) -> Ask:
    """A request's options: the query string's, else the JSON body's, else the defaults."""
    default = Ask()
    try:
        return Ask(
            top_k=int(_first(top_k, options.get("top_k"), default.top_k)),
            uncertain_below=float(_first(uncertain_below, options.get("uncertain_below"),
                                         default.uncertain_below)),
            threshold=None if (t := _first(threshold, options.get("threshold"), None)) is None
            else float(t))
    except (TypeError, ValueError) as exc:
        raise ServeError(f"a bad option value ({exc})") from None


def _first(*values: Any) -> Any:
    return next((v for v in values if v is not None), None)
