"""The wire as the Python SDK's HTTP client sees it: every exchange with the MCP endpoint,
recorded for the script's summary so the Rust test can assert on what really crossed.

`Wire` is an httpx2 transport placed under the SDK's `AsyncClient`, so it sees each request
exactly as sent (after the OAuth provider added or left out the token) and each response
before the SDK reads it. It records the headers, the JSON-RPC body's method and 2026-07-28
envelope, the status and response headers, and the JSON-RPC messages of the answer, which it
copies as the SDK streams the body (an event stream is not buffered ahead of the SDK).

An entry has the shape tests/e2e/wire.mjs gives its own, so the Rust helpers of
tests/support/e2e.rs read both: `{era, http, rpc, id, bodyVersion, bodyName, requestState,
inputResponses, clientCapabilities, request: {headers…, authorization, bearer}, status,
response: {headers…}, messages: [JSON-RPC messages]}`; `request.bearer` is the fingerprint of
the bearer token sent (`token_fingerprint`).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx2

VERSION_KEY = "io.modelcontextprotocol/protocolVersion"
CAPABILITIES_KEY = "io.modelcontextprotocol/clientCapabilities"

REQUEST_HEADERS = ("mcp-protocol-version", "mcp-method", "mcp-name", "mcp-session-id")
RESPONSE_HEADERS = ("content-type", "mcp-session-id", "www-authenticate")


def token_fingerprint(token: str) -> str:
    """A short name for an access token, to tell in a summary which token a request carried
    without printing the token: the first 16 hex digits of its SHA-256 (as oauth.mjs)."""
    return hashlib.sha256(token.encode()).hexdigest()[:16]


def bearer_fingerprint(authorization: str | None) -> str | None:
    """The fingerprint of the token of an `Authorization: Bearer …` header, else None."""
    match = re.fullmatch(r"Bearer (\S+)", authorization or "")
    return token_fingerprint(match[1]) if match else None


def rpc_messages(content_type: str, body: bytes) -> list[Any]:
    """The JSON-RPC messages of a response body: one JSON value, or the `data:` of SSE events."""
    text = body.decode("utf-8", errors="replace")
    if not text:
        return []
    if content_type.startswith("text/event-stream"):
        messages = []
        for event in text.replace("\r\n", "\n").split("\n\n"):
            data = "\n".join(
                line[5:].removeprefix(" ") for line in event.split("\n") if line.startswith("data:")
            )
            if data:
                try:
                    messages.append(json.loads(data))
                except ValueError:
                    messages.append({"unparsed": data})
        return messages
    try:
        return [json.loads(text)]
    except ValueError:
        return [{"unparsed": text}]


def bare(url: httpx2.URL | str) -> str:
    """A URL without its query or fragment."""
    url = httpx2.URL(str(url))
    return str(url.copy_with(query=None, fragment=None))


class _RecordedBody(httpx2.AsyncByteStream):
    """A response body passed through chunk by chunk, kept for the entry when it ends."""

    def __init__(self, inner: httpx2.AsyncByteStream, done: Callable[[bytes], None]) -> None:
        self._inner = inner
        self._done = done
        self._chunks: list[bytes] = []

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            self._chunks.append(chunk)
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()
        self._done(b"".join(self._chunks))


class Wire(httpx2.AsyncBaseTransport):
    """Records the exchanges with one MCP endpoint; every other request (the authorization
    server's) passes through and is only logged."""

    def __init__(self, endpoint: str, era: str, log: Callable[[str], None]) -> None:
        self.entries: list[dict[str, Any]] = []
        self._endpoint = bare(endpoint)
        self._era = era
        self._log = log
        self._inner = httpx2.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if bare(request.url) != self._endpoint:
            response = await self._inner.handle_async_request(request)
            challenge = response.headers.get("www-authenticate")
            self._log(
                f"{request.method} {request.url} -> {response.status_code}"
                + (f" (www-authenticate: {challenge})" if challenge else "")
            )
            return response
        entry = self._request_entry(request, await request.aread())
        self.entries.append(entry)
        response = await self._inner.handle_async_request(request)
        self._response_entry(entry, response)

        def done(body: bytes) -> None:
            entry["messages"] = rpc_messages(entry["response"]["content-type"] or "", body)

        return httpx2.Response(
            status_code=response.status_code,
            headers=response.headers,
            stream=_RecordedBody(response.stream, done),
            extensions=response.extensions,
        )

    def _request_entry(self, request: httpx2.Request, content: bytes) -> dict[str, Any]:
        try:
            body = json.loads(content) if content else None
        except ValueError:
            body = None
        body = body if isinstance(body, dict) else {}
        params = body.get("params") if isinstance(body.get("params"), dict) else {}
        meta = params.get("_meta") if isinstance(params.get("_meta"), dict) else {}
        entry: dict[str, Any] = {
            "era": self._era,
            "http": request.method,
            "rpc": body.get("method"),
            "bodyVersion": meta.get(VERSION_KEY),
            "clientCapabilities": meta.get(CAPABILITIES_KEY),
            "bodyName": params.get("name", params.get("uri")),
            "requestState": params.get("requestState"),
            "inputResponses": params.get("inputResponses"),
            "request": {name: request.headers.get(name) for name in REQUEST_HEADERS},
        }
        entry["request"]["authorization"] = "authorization" in request.headers
        entry["request"]["bearer"] = bearer_fingerprint(request.headers.get("authorization"))
        # Absent, not null, for a notification or a response (as wire.mjs records them).
        if "id" in body:
            entry["id"] = body["id"]
        return entry

    def _response_entry(self, entry: dict[str, Any], response: httpx2.Response) -> None:
        entry["status"] = response.status_code
        entry["response"] = {name: response.headers.get(name) for name in RESPONSE_HEADERS}
        r = entry["request"]
        self._log(
            f"{entry['http']} {entry['rpc'] or ''} [{r['mcp-protocol-version'] or '-'} "
            f"{r['mcp-method'] or '-'} {r['mcp-name'] or '-'}]"
            + (" +requestState" if entry["requestState"] else "")
            + f" -> {response.status_code} {entry['response']['content-type'] or ''}"
            + (
                f" (www-authenticate: {entry['response']['www-authenticate']})"
                if entry["response"]["www-authenticate"]
                else ""
            )
        )

    async def aclose(self) -> None:
        await self._inner.aclose()
