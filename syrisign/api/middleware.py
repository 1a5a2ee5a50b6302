"""ASGI middleware: the request body limit."""
from __future__ import annotations

from syrisign.api.errors import ApiError


# -- ASGI middleware: request body limit -------------------------------------------------------------------
class _TooLarge(Exception):
    pass


class BodyLimit:
    """413 for bodies over ``max_bytes``, by Content-Length or while streaming."""

    def __init__(self, app, max_bytes: int, upload_bytes: int = 0, upload_paths: tuple[str, ...] = ()) -> None:
        self.app, self.max_bytes = app, max_bytes
        self.upload_bytes, self.upload_paths = upload_bytes, upload_paths

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        upload = scope.get("method") == "POST" and scope.get("path", "").startswith(self.upload_paths or ("\0",))
        limit = self.upload_bytes if upload else self.max_bytes
        too_large = ApiError(413, "body_too_large", f"the request body is over {limit} bytes; " + (
            "send a shorter video (one sign)" if upload else "send a shorter text"))
        for k, v in scope.get("headers", []):
            if k == b"content-length":
                try:
                    n = int(v)
                except ValueError:
                    n = 0
                if n > limit:
                    return await too_large.response()(scope, receive, send)
        size, started = 0, False

        async def limited_receive():
            nonlocal size
            msg = await receive()
            size += len(msg.get("body", b""))
            if size > limit:
                raise _TooLarge()
            return msg

        async def tracking_send(msg):
            nonlocal started
            started = started or msg["type"] == "http.response.start"
            await send(msg)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await too_large.response()(scope, receive, send)


