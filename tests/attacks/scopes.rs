//! Scope escalation: no token gets more than its scopes grant.

use crate::capture::capture;
use crate::cases::{Expect, assert_no_failures, case, run};
use crate::harness::default_harness;
use crate::support::TokenBuilder;

// ---- 3. scope escalation -----------------------------------------------------------------

#[tokio::test(flavor = "current_thread")]
async fn scopes_cannot_be_escalated() {
    let (capture, _guard) = capture();
    let h = default_harness(&capture).await;
    let session = h.initialize(&h.token("files:read").build()).await;
    let denied = |name: &str, token: TokenBuilder, tool: &'static str, missing: &'static str| {
        case(
            name,
            h.call(&token.build(), &session, tool),
            Expect::ScopeDenied { tool, missing },
        )
    };
    let t = |scope: &str| h.token(scope);
    let cases = vec![
        denied(
            "token for read_file calling write_file",
            t("files:read"),
            "write_file",
            "files:write",
        ),
        denied(
            "token for write_file calling read_file",
            t("files:write"),
            "read_file",
            "files:read",
        ),
        denied(
            "token for read_file calling audit",
            t("files:read"),
            "audit",
            "audit:run",
        ),
        denied(
            "token with no scope calling audit",
            t(""),
            "audit",
            "audit:run files:read",
        ),
        denied(
            "scope with a suffix: files:readx",
            t("files:readx"),
            "read_file",
            "files:read",
        ),
        denied(
            "scope prefix only: files",
            t("files"),
            "read_file",
            "files:read",
        ),
        denied(
            "scope files:read with a trailing space calling write_file",
            t("files:read "),
            "write_file",
            "files:write",
        ),
        denied(
            "scope wildcard files:*",
            t("files:*"),
            "read_file",
            "files:read",
        ),
        denied(
            "comma-joined scopes",
            t("files:read,files:write"),
            "write_file",
            "files:write",
        ),
        denied(
            "tab-joined scopes",
            t("files:read\tfiles:write"),
            "read_file",
            "files:read",
        ),
        denied(
            "scope in another case",
            t("FILES:READ"),
            "read_file",
            "files:read",
        ),
        denied(
            "scope with a Cyrillic a",
            t("files:re\u{0430}d"),
            "read_file",
            "files:read",
        ),
        denied(
            "scope with a NUL byte",
            t("files:read\u{0}"),
            "read_file",
            "files:read",
        ),
        denied(
            "scp array in another case",
            t("").scp_array(&["FILES:READ"]),
            "read_file",
            "files:read",
        ),
        denied(
            "scp array element holding two scopes",
            t("").scp_array(&["files:read files:write"]),
            "write_file",
            "files:write",
        ),
        denied(
            "scp smuggled beside scope",
            t("files:read").claim("scp", ["files:write"]),
            "write_file",
            "files:write",
        ),
        denied(
            "empty scope beside an scp string",
            t("").claim("scp", "files:write"),
            "write_file",
            "files:write",
        ),
        denied(
            "the broader scope does not imply an unrelated one",
            t("files:admin"),
            "audit",
            "audit:run",
        ),
        denied(
            "one of two required scopes",
            t("audit:run"),
            "audit",
            "files:read",
        ),
        denied(
            "a scope named like the hierarchy root plus junk",
            t("files:adminx"),
            "write_file",
            "files:write",
        ),
        case(
            "2026-07-28 request without a session, calling write_file with a read token",
            h.modern_call(&t("files:read").build(), "write_file", "write_file"),
            Expect::ScopeDenied {
                tool: "write_file",
                missing: "files:write",
            },
        ),
        // Controls: what the tokens above lacked.
        case(
            "control: files:admin calls write_file",
            h.call(&t("files:admin").build(), &session, "write_file"),
            Expect::Accepted,
        ),
        case(
            "control: scp array calls read_file",
            h.call(
                &t("").scp_array(&["files:read"]).build(),
                &session,
                "read_file",
            ),
            Expect::Accepted,
        ),
    ];
    let mut failures = Vec::new();
    let count = run(&h, cases, &mut failures).await;
    assert_no_failures("scope escalation", count, &failures);
    assert_eq!(h.runs(), 2, "only the controls ran a tool");
}
