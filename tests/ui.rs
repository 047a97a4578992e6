//! Compile-time behaviour of `#[mcp_tool]` and `#[derive(McpServer)]`: signatures that must
//! compile, and mistakes that must fail with an error at the offending token.
//!
//! The `.stderr` files are compiler output, stable only for the toolchain pinned in
//! `rust-toolchain.toml`. Regenerate them with `TRYBUILD=overwrite cargo test --test ui`, then
//! read every diff.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
