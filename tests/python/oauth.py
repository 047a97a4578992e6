"""The OAuth pieces of the Python client: the SDK's `OAuthClientProvider` made headless.

The SDK runs the flow itself (401 → Protected Resource Metadata → authorization server
metadata → dynamic registration → authorization code + PKCE → token, and on a 403
`insufficient_scope` a new authorization for the union of the scopes it asked for before and
the challenged ones, SEP-2350). It needs two things from its user: a `redirect_handler` that
sends the user to the authorization URL, and a `callback_handler` that hands back what the
authorization server redirected to. Here a small user agent plays the user: it follows the
authorization server's redirects (keeping its cookies) until one goes to the redirect URI, and
keeps that query (code, state and the RFC 9207 `iss`, which the SDK checks).

Everything the provider is asked or given is reported through `step(name, details)`.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
from mcp.client.auth import OAuthClientProvider
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

from wire import token_fingerprint

Step = Callable[..., None]


class CheckFailed(Exception):
    """A check of the script failed: reported as such, without a traceback."""


def check(condition: object, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


def jwt_claims(token: str) -> dict[str, Any] | None:
    """The header and claims of a JWT, unverified (for the report only: the server verifies)."""
    try:
        header, payload = (
            json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))) for part in token.split(".")[:2]
        )
    except (ValueError, TypeError):
        return None
    return {"header": header, "payload": payload}


class MemoryStorage:
    """The SDK's `TokenStorage`, in memory, reporting each registration and token."""

    def __init__(self, step: Step) -> None:
        self._step = step
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        jwt = jwt_claims(tokens.access_token) or {"header": {}, "payload": {}}
        self._step(
            "token",
            scope=tokens.scope,
            token_type=tokens.token_type,
            has_refresh_token=tokens.refresh_token is not None,
            typ=jwt["header"].get("typ"),
            aud=jwt["payload"].get("aud"),
            token_scope=jwt["payload"].get("scope"),
            sub=jwt["payload"].get("sub"),
            fingerprint=token_fingerprint(tokens.access_token),
        )
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self._step(
            "registered",
            client_id=client_info.client_id,
            grant_types=list(client_info.grant_types or []),
            token_endpoint_auth_method=client_info.token_endpoint_auth_method,
        )
        self.client_info = client_info


class HeadlessUser:
    """The user's browser at the authorization server: the provider's two handlers."""

    def __init__(self, redirect_uri: str, http: httpx2.AsyncClient, step: Step) -> None:
        self.redirect_uri = redirect_uri
        self._http = http
        self._step = step
        self._pending: list[AuthorizationCodeResult] = []
        # Every authorization request: its scope, resource and PKCE method.
        self.authorizations: list[dict[str, Any]] = []

    async def redirect_handler(self, authorization_url: str) -> None:
        """Visits the authorization URL and follows the redirects to the redirect URI."""
        parts = urlsplit(authorization_url)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        request = {
            "scope": query.get("scope"),
            "resource": query.get("resource"),
            "code_challenge_method": query.get("code_challenge_method"),
            "authorization_endpoint": f"{parts.scheme}://{parts.netloc}{parts.path}",
        }
        self.authorizations.append(request)
        self._step("authorize", **request)
        url = authorization_url
        for _ in range(20):
            response = await self._http.get(url, follow_redirects=False)
            location = response.headers.get("location")
            if not response.is_redirect or not location:
                raise CheckFailed(
                    f"authorization stopped at {url}: HTTP {response.status_code}, no redirect: {response.text[:500]}"
                )
            url = str(response.url.join(location))
            if url.startswith(self.redirect_uri):
                back = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
                if "error" in back:
                    raise CheckFailed(
                        f"authorization server refused: {back['error']} {back.get('error_description', '')}"
                    )
                check(back.get("state") == query.get("state"), "the state came back changed")
                check(back.get("code"), f"no code in the redirect: {url}")
                self._pending.append(
                    AuthorizationCodeResult(code=back["code"], state=back.get("state"), iss=back.get("iss"))
                )
                return
        raise CheckFailed("authorization did not reach the redirect URI in 20 redirects")

    async def callback_handler(self) -> AuthorizationCodeResult:
        """What the authorization server redirected to, for the SDK to check and exchange."""
        check(self._pending, "the SDK asked for the callback but no authorization response came")
        return self._pending.pop(0)


def headless_provider(
    server_url: str, redirect_uri: str, http: httpx2.AsyncClient, step: Step
) -> tuple[OAuthClientProvider, HeadlessUser, MemoryStorage]:
    """The SDK's provider, registering a public client (code and refresh grants: the SDK steps
    up by authorizing again, never by refreshing) and authorizing through a `HeadlessUser`."""
    user = HeadlessUser(redirect_uri, http, step)
    storage = MemoryStorage(step)
    provider = OAuthClientProvider(
        server_url=server_url,
        client_metadata=OAuthClientMetadata(
            client_name="scopegate e2e (Python SDK)",
            redirect_uris=[redirect_uri],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
        ),
        storage=storage,
        redirect_handler=user.redirect_handler,
        callback_handler=user.callback_handler,
    )
    return provider, user, storage
