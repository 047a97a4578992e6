"""The Python MCP SDK (`mcp` 2.x) pinned to MCP 2026-07-28 against a server with the `notes`
tools and OAuth (the quickstart): the whole authorization flow, a step-up, and two tools that
ask the client for something while they run, answered through input requests (SEP-2322).

1. `server/discover` at 2026-07-28 with no token gets 401; the SDK's `OAuthClientProvider`
   reads the Protected Resource Metadata and the authorization server's metadata, registers
   (dynamic registration), authorizes with code + PKCE for the challenged scope (headless:
   oauth.py) and sends `server/discover` again with the token;
2. `tools/list`; `list_notes` (empty);
3. `add_note` needs `notes:write`: the server answers 403 `insufficient_scope`; the SDK, inside
   the same call, authorizes again for the union of what it asked for before and the
   challenged scope, and sends the call again; then a second note;
4. `summarize_notes` samples: the server answers `input_required` with a
   `sampling/createMessage` request; the SDK runs `sampling_callback` (a fixed text) and sends
   the call again with `inputResponses` and the `requestState`; the tool returns that text;
5. `delete_note {id: 1}` elicits (key `confirm`, boolean `ok`): `elicitation_callback`
   declines the first time (the note stays) and accepts the second (the note is gone).

    python client_2026.py <mcp-url> [--redirect-uri URL]

stdout: one JSON line `{"ok":true,"protocolVersion":…,"tools":[…],"steps":[…],
"sampling":[…],"elicitation":[…],"wire":[…],…}` (or `{"ok":false,"error":…}`); exit 0 / 1.
`wire` holds every exchange with the MCP endpoint (wire.py). stderr: every HTTP exchange.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from importlib.metadata import version
from typing import Any

import anyio
import httpx2
import mcp_types as types
from mcp import Client
from mcp.client.session import ClientRequestContext
from mcp.client.streamable_http import streamable_http_client

from oauth import CheckFailed, check, headless_provider, jwt_claims
from wire import Wire

MODERN = "2026-07-28"
REQUIRED_SCOPES_META = "dev.scopegate/requiredScopes"
# What the client's "model" answers every sampling request with.
MODEL_TEXT = "These notes are about a Python end-to-end test and groceries."
TIMEOUT_S = float(os.environ.get("E2E_CLIENT_TIMEOUT_MS", "60000")) / 1000


def log(message: str) -> None:
    print(f"[client_2026] {message}", file=sys.stderr, flush=True)


class Run:
    """What the script did, in order, and what the client's callbacks were asked."""

    def __init__(self) -> None:
        self.steps: list[dict[str, Any]] = []
        self.sampling: list[Any] = []
        self.elicitation: list[dict[str, Any]] = []
        # How the elicitation callback answers the next request.
        self.elicitation_answer = types.ElicitResult(action="decline")

    def step(self, name: str, **details: Any) -> None:
        self.steps.append({"step": name, **details})
        log(f"step {name} {json.dumps(details, default=str)}")

    async def sampling_callback(
        self, context: ClientRequestContext, params: types.CreateMessageRequestParams
    ) -> types.CreateMessageResult:
        self.sampling.append(params.model_dump(by_alias=True, mode="json", exclude_none=True))
        return types.CreateMessageResult(
            role="assistant",
            content=types.TextContent(type="text", text=MODEL_TEXT),
            model="e2e-fixed-model",
            stop_reason="endTurn",
        )

    async def elicitation_callback(
        self, context: ClientRequestContext, params: types.ElicitRequestParams
    ) -> types.ElicitResult:
        answer = self.elicitation_answer
        self.elicitation.append(
            {
                "params": params.model_dump(by_alias=True, mode="json", exclude_none=True),
                "answered": answer.model_dump(by_alias=True, mode="json", exclude_none=True),
            }
        )
        return answer


async def call(client: Client, run: Run, name: str, arguments: dict[str, Any] | None = None, **details: Any):
    """Calls a tool and records its outcome as a step named `call NAME`; fails on a tool error."""
    result = await client.call_tool(name, arguments or {})
    text = "".join(c.text for c in result.content if isinstance(c, types.TextContent))
    run.step(
        f"call {name}",
        **details,
        isError=bool(result.is_error),
        text=text,
        structuredContent=result.structured_content,
    )
    check(not result.is_error, f"{name} failed: {text}")
    return text, result.structured_content


def note_ids(structured: Any) -> list[int]:
    return [note["id"] for note in (structured or {}).get("notes", [])]


async def main(url: str, redirect_uri: str, run: Run, wire: Wire) -> dict[str, Any]:
    # One HTTP client for everything: the MCP endpoint (through the OAuth provider) and the
    # authorization server's pages the headless user visits. Both go through `wire`, which
    # records the endpoint's exchanges and logs the rest.
    async with httpx2.AsyncClient(transport=wire, timeout=httpx2.Timeout(30, read=60)) as browser:
        provider, user, storage = headless_provider(url, redirect_uri, browser, run.step)
        async with httpx2.AsyncClient(auth=provider, transport=wire, timeout=httpx2.Timeout(30, read=60)) as http:
            client = Client(
                streamable_http_client(url, http_client=http),
                mode=MODERN,
                client_info=types.Implementation(name="scopegate-e2e-python", version="1.0.0"),
                sampling_callback=run.sampling_callback,
                elicitation_callback=run.elicitation_callback,
            )
            async with client:
                check(client.protocol_version == MODERN, f"the pinned client is at {client.protocol_version}")

                # 1. No token yet: the provider answers the 401 with the whole flow.
                discovered = types.DiscoverResult.model_validate(await client.session.send_discover(MODERN))
                run.step("discovered", supportedVersions=discovered.supported_versions)
                check(MODERN in discovered.supported_versions, f"server/discover: {discovered.supported_versions}")
                check(len(user.authorizations) == 1, f"{len(user.authorizations)} authorizations before discover")
                first = user.authorizations[0]
                check(first["resource"] == url, f"resource indicator {first['resource']}, expected {url}")

                # 2. The tools, and a read with the first token.
                listed = await client.list_tools(cache_mode="bypass")
                tools = sorted(t.name for t in listed.tools)
                required_scopes = {t.name: (t.meta or {}).get(REQUIRED_SCOPES_META) for t in listed.tools}
                run.step("tools/list", tools=tools, requiredScopes=required_scopes)
                _, empty = await call(client, run, "list_notes")
                check(note_ids(empty) == [], f"notes before any was added: {empty}")

                # 3. A write: the 403 and the step-up happen inside this one call.
                _, added = await call(client, run, "add_note", {"title": "e2e"}, after_step_up=True)
                check(len(user.authorizations) == 2, f"{len(user.authorizations)} authorizations after add_note")
                check(added and added.get("id") == 1, f"add_note returned {added}")
                await call(client, run, "add_note", {"title": "groceries", "body": "milk"})

                # 4. Sampling through an input request.
                summary, _ = await call(client, run, "summarize_notes")
                check(len(run.sampling) == 1, f"the sampling callback ran {len(run.sampling)} times")
                check(summary == MODEL_TEXT, f"summarize_notes returned {summary!r}")

                # 5. Elicitation through an input request: declined, then accepted.
                run.elicitation_answer = types.ElicitResult(action="decline")
                await call(client, run, "delete_note", {"id": 1}, answer="decline")
                _, kept = await call(client, run, "list_notes")
                check(1 in note_ids(kept), "note 1 is gone after a declined confirmation")
                run.elicitation_answer = types.ElicitResult(action="accept", content={"ok": True})
                deleted, _ = await call(client, run, "delete_note", {"id": 1}, answer="accept")
                check(deleted.startswith("deleted note 1"), f"delete_note answered {deleted!r}")
                check(len(run.elicitation) == 2, f"the elicitation callback ran {len(run.elicitation)} times")
                _, left = await call(client, run, "list_notes")
                check(1 not in note_ids(left), "note 1 is still there after the confirmation")

                await call(client, run, "whoami")

    for entry in wire.entries:
        where = f"{entry['http']} {entry['rpc'] or ''} (#{entry.get('id', '-')})"
        check("messages" in entry, f"{where}: the response body was never read")
    token = jwt_claims(storage.tokens.access_token if storage.tokens else "") or {"payload": {}}
    return {
        "ok": True,
        "sdk": {"mcp": version("mcp"), "httpx2": version("httpx2")},
        "protocolVersion": MODERN,
        "era": "modern",
        "supportedVersions": discovered.supported_versions,
        "tools": tools,
        "requiredScopes": required_scopes,
        "steps": run.steps,
        "sampling": run.sampling,
        "elicitation": run.elicitation,
        "modelText": MODEL_TEXT,
        "tokenScope": token["payload"].get("scope"),
        "wire": wire.entries,
    }


def failure(error: BaseException) -> str:
    """A failure's message: a failed check as it is, anything else with its type (a task group
    wraps what its tasks raised: the first of those)."""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    if isinstance(error, CheckFailed):
        return str(error)
    return f"{type(error).__name__}: {error}"


def cli() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", help="the MCP endpoint")
    parser.add_argument("--redirect-uri", default="http://127.0.0.1/e2e-callback")
    args = parser.parse_args()
    run = Run()
    wire = Wire(args.url, "modern", log)

    async def watched() -> dict[str, Any]:
        with anyio.fail_after(TIMEOUT_S):
            return await main(args.url, args.redirect_uri, run, wire)

    try:
        summary = anyio.run(watched)
    except BaseException as error:  # noqa: BLE001 - every failure ends in the summary line
        message = failure(error) if not isinstance(error, TimeoutError) else f"timed out after {TIMEOUT_S} s"
        log(f"FAILED: {message}")
        if not isinstance(error, CheckFailed):
            log("".join(traceback.format_exception(error)))
        evidence = {"steps": run.steps, "sampling": run.sampling, "elicitation": run.elicitation, "wire": wire.entries}
        print(json.dumps({"ok": False, "error": message, **evidence}, default=str), flush=True)
        return 1
    print(json.dumps(summary, default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(cli())
