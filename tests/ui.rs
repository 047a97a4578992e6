//! Compile-time behaviour of `#[mcp_tool]`, `#[mcp_resource]`, `#[mcp_prompt]` and
//! `#[derive(McpServer)]`: signatures that must compile, and mistakes that must fail with an
//! error at the offending token.
//!
//! The cases are grouped by the macro they exercise: `tests/ui/<macro>/{pass,fail}/`. A case that
//! lists items in a server (`tools(...)`, `implies(...)`, `#[mcp(state)]`) belongs to `server`,
//! whichever item kind it lists.
//!
//! The `.stderr` files are compiler output, stable only for the toolchain pinned in
//! `rust-toolchain.toml`. Regenerate them with `TRYBUILD=overwrite cargo test --test ui`, then
//! read every diff.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/tool/pass/*.rs");
    t.compile_fail("tests/ui/tool/fail/*.rs");
    t.pass("tests/ui/server/pass/*.rs");
    t.compile_fail("tests/ui/server/fail/*.rs");
    t.pass("tests/ui/resource/pass/*.rs");
    t.compile_fail("tests/ui/resource/fail/*.rs");
    // A prompt beside resources is in `resource/pass/resources_and_prompts.rs`.
    t.pass("tests/ui/prompt/pass/*.rs");
    t.compile_fail("tests/ui/prompt/fail/*.rs");
}
