//! Generated code must compile beside user items that shadow the prelude, with every warning an
//! error: it reaches everything through absolute paths.

#![deny(warnings)]

// Types deriving serde/schemars live outside: those derives are not ours to test.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct Reply {
    count: u32,
}

#[derive(Debug, Clone, Copy)]
struct Counter(u32);

mod shadowed {
    #![allow(dead_code, non_camel_case_types)]

    // Every name below shadows something the generated code would otherwise pick up.
    struct Result;
    struct Ok;
    struct Err;
    struct Option;
    struct Some;
    struct None;
    struct Vec;
    struct String;
    struct Box;
    struct Send;
    struct Sync;
    struct Clone;
    struct Default;
    struct Into;
    struct From;
    struct core;
    struct std;
    struct serde;
    struct serde_json;
    struct schemars;
    struct __sg;

    use super::{Counter, Reply};
    use ::scopegate::prelude::*;

    /// Echoes its argument.
    #[mcp_tool(scope = "echo:use")]
    pub(super) fn echo(text: ::std::string::String) -> ::std::string::String {
        text
    }

    /// Maybe fails.
    #[mcp_tool(public)]
    pub(super) async fn maybe(
        fail: bool,
        state: State<Counter>,
    ) -> ::core::result::Result<Json<Reply>, ToolError> {
        if fail {
            ::core::result::Result::Err(ToolError::new("asked to fail"))
        } else {
            ::core::result::Result::Ok(Json(Reply { count: state.0.0 }))
        }
    }

    /// Every scope rule, so their expansion is checked too.
    #[mcp_tool(
        any_scope = ["echo:use", "echo:admin"],
        when(loud => "echo:loud"),
        when(text == "secret" => "echo:admin"),
        may_require = ["echo:admin"],
        quota = "10/min"
    )]
    pub(super) fn shout(text: ::std::string::String, loud: bool) -> ::std::string::String {
        if loud { text.to_uppercase() } else { text }
    }

    #[derive(McpServer)]
    #[mcp(
        name = "hygiene",
        tools(echo, maybe, shout),
        scopes("echo:use", "echo:admin", "echo:loud")
    )]
    pub(super) struct Hygiene {
        #[mcp(state)]
        pub(super) counter: Counter,
    }
}

#[tokio::test]
async fn generated_code_ignores_shadowing_names() {
    use scopegate::{McpServer as _, Principal, Reply, ScopeSet, Server};

    assert_eq!(
        shadowed::Hygiene::SCOPES,
        ["echo:admin", "echo:loud", "echo:use"]
    );
    // The functions stay callable as written.
    assert_eq!(shadowed::echo("hi".into()), "hi");

    let server = Server::new(shadowed::Hygiene {
        counter: Counter(7),
    })
    .unwrap();
    let who = Principal::builder()
        .scopes(ScopeSet::from_space_separated("echo:use"))
        .build();
    let message = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"maybe","arguments":{"fail":false}}}"#;
    let Reply::Response(response) = server.handle_bytes(message, &who).await else {
        panic!("a response");
    };
    let response: serde_json::Value = serde_json::from_str(&response.to_json()).unwrap();
    assert_eq!(response["result"]["structuredContent"]["count"], 7);

    let message = br#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"shout","arguments":{"text":"hi","loud":false}}}"#;
    let Reply::Response(response) = server.handle_bytes(message, &who).await else {
        panic!("a response");
    };
    let response: serde_json::Value = serde_json::from_str(&response.to_json()).unwrap();
    assert_eq!(response["result"]["content"][0]["text"], "hi");
    let message = br#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"shout","arguments":{"text":"hi","loud":true}}}"#;
    let Reply::Denied(denial) = server.handle_bytes(message, &who).await else {
        panic!("a denial");
    };
    assert_eq!(denial.missing, ["echo:loud"]);
}
