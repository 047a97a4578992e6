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
   declines the first time (the note stays) and accepts the second (the note is gone);
6. a scope rule over the arguments: `add_note {confidential: true}` needs `notes:admin` as
   well; holding `notes:read notes:write`, the client gets 403 naming `notes:admin notes:write`
   and the SDK, inside the call, authorizes for the union and sends it again: the note comes
   back confidential;
7. a scope asked for at run time, by a second client of its own (another provider, another
   registration) authorized for `notes:read` alone: `get_note` on a plain note works;
   `get_note` on the confidential one gets 403 naming `notes:admin notes:read` (the handler
   asks for `notes:admin` once it finds the note confidential); the SDK authorizes for
   `notes:read notes:admin` and sends it again: the note.

    python client_2026.py <mcp-url> [--redirect-uri URL]

stdout: one JSON line `{"ok":true,"protocolVersion":…,"tools":[…],"steps":[…],
"sampling":[…],"elicitation":[…],"wire":[…],"reader":{…},…}` (or `{"ok":false,"error":…}`);
exit 0 / 1. `wire` holds every exchange with the MCP endpoint (wire.py); `reader` is the client
of 7, with its own `steps`, `wire` and `tokenScope`. stderr: every HTTP exchange.
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

    def __init__(self, label: str = "") -> None:
        # Before each step in the log: which client took it.
        self._label = label
        self.steps: list[dict[str, Any]] = []
        self.sampling: list[Any] = []
        self.elicitation: list[dict[str, Any]] = []
        # How the elicitation callback answers the next request.
        self.elicitation_answer = types.ElicitResult(action="decline")
        # The scope of the last access token, once the run is over.
        self.token_scope: str | None = None

    def step(self, name: str, **details: Any) -> None:
        self.steps.append({"step": name, **details})
        log(f"{self._label}step {name} {json.dumps(details, default=str)}")

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


def modern_client(url: str, http: httpx2.AsyncClient, run: Run) -> Client:
    """The SDK's client pinned to 2026-07-28 over `http`, its callbacks `run`'s."""
    return Client(
        streamable_http_client(url, http_client=http),
        mode=MODERN,
        client_info=types.Implementation(name="scopegate-e2e-python", version="1.0.0"),
        sampling_callback=run.sampling_callback,
        elicitation_callback=run.elicitation_callback,
    )


async def reader(url: str, redirect_uri: str, run: Run, wire: Wire, plain: Any, secret: Any) -> None:
    """Step 7: a client of its own (another provider: another registration, its own tokens, its
    steps in `run` and its exchanges in `wire`), authorized for `notes:read` alone, reads the
    note `plain`, then the confidential `secret`, which it may read only once it stepped up."""
    async with httpx2.AsyncClient(transport=wire, timeout=httpx2.Timeout(30, read=60)) as browser:
        provider, user, storage = headless_provider(url, redirect_uri, browser, run.step)
        async with httpx2.AsyncClient(auth=provider, transport=wire, timeout=httpx2.Timeout(30, read=60)) as http:
            async with modern_client(url, http, run) as client:
                await client.session.send_discover(MODERN)
                check(
                    [a["scope"] for a in user.authorizations] == ["notes:read"],
                    f"the reader's first authorizations: {user.authorizations}",
                )
                _, read = await call(client, run, "get_note", {"id": plain["id"]})
                check(read == plain, f"get_note returned {read}, not {plain}")
                _, read = await call(client, run, "get_note", {"id": secret["id"]}, after_step_up=True)
                check(len(user.authorizations) == 2, f"{len(user.authorizations)} reader authorizations")
                asked = user.authorizations[-1]["scope"]
                check(asked == "notes:read notes:admin", f"the reader's step-up asked for {asked!r}")
                check(read == secret, f"get_note returned {read}, not {secret}")
        run.token_scope = (jwt_claims(storage.tokens.access_token) or {"payload": {}})["payload"].get("scope")


async def main(
    url: str, redirect_uri: str, run: Run, wire: Wire, reader_run: Run, reader_wire: Wire
) -> dict[str, Any]:
    # One HTTP client for everything: the MCP endpoint (through the OAuth provider) and the
    # authorization server's pages the headless user visits. Both go through `wire`, which
    # records the endpoint's exchanges and logs the rest.
    async with httpx2.AsyncClient(transport=wire, timeout=httpx2.Timeout(30, read=60)) as browser:
        provider, user, storage = headless_provider(url, redirect_uri, browser, run.step)
        async with httpx2.AsyncClient(auth=provider, transport=wire, timeout=httpx2.Timeout(30, read=60)) as http:
            async with modern_client(url, http, run) as client:
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

                # 6. A rule over the arguments: a confidential note needs notes:admin too; the 403
                #    and the step-up happen inside this one call.
                secret_args = {"title": "secret", "body": "for admins", "confidential": True}
                _, secret = await call(client, run, "add_note", secret_args, after_step_up=True)
                check(len(user.authorizations) == 3, f"{len(user.authorizations)} authorizations after add_note")
                asked = user.authorizations[-1]["scope"]
                check(asked == "notes:read notes:write notes:admin", f"the step-up asked for {asked!r}")
                check(
                    secret and secret.get("confidential") is True and secret.get("title") == "secret",
                    f"add_note returned {secret}",
                )
                plain = next(note for note in left["notes"] if note["id"] == 2)

    # 7. A scope asked for at run time, by a client holding notes:read alone.
    await reader(url, redirect_uri, reader_run, reader_wire, plain, secret)

    for entry in [*wire.entries, *reader_wire.entries]:
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
        "reader": {"steps": reader_run.steps, "tokenScope": reader_run.token_scope, "wire": reader_wire.entries},
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
    # The client of step 7: its steps and exchanges apart from the first client's.
    reader_run = Run("[reader] ")
    reader_wire = Wire(args.url, "modern", lambda message: log(f"[reader] {message}"))

    async def watched() -> dict[str, Any]:
        with anyio.fail_after(TIMEOUT_S):
            return await main(args.url, args.redirect_uri, run, wire, reader_run, reader_wire)

    try:
        summary = anyio.run(watched)
    except BaseException as error:  # noqa: BLE001 - every failure ends in the summary line
        message = failure(error) if not isinstance(error, TimeoutError) else f"timed out after {TIMEOUT_S} s"
        log(f"FAILED: {message}")
        if not isinstance(error, CheckFailed):
            log("".join(traceback.format_exception(error)))
        evidence = {
            "steps": run.steps,
            "sampling": run.sampling,
            "elicitation": run.elicitation,
            "wire": wire.entries,
            "reader": {"steps": reader_run.steps, "wire": reader_wire.entries},
        }
        print(json.dumps({"ok": False, "error": message, **evidence}, default=str), flush=True)
        return 1
    print(json.dumps(summary, default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(cli())
