//! The fixtures of the official MCP conformance suite (`@modelcontextprotocol/conformance`),
//! served over Streamable HTTP with authorization off, as the suite sends no credentials.
//! Protected servers are tested by scopegate's own suites; this one measures the protocol.
//!
//! ```sh
//! cargo run --example conformance -- --addr 127.0.0.1:3001
//! ```

use std::time::Duration;

use scopegate::http::HttpConfig;
use scopegate::prelude::*;
use scopegate::protocol::Content as C;
use scopegate::{LogLevel, Role};
use serde_json::{Value, json};

/// A 1×1 PNG.
const PNG_B64: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==";
/// A WAV header.
const WAV_B64: &str = "UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA=";

fn image() -> C {
    C::Image {
        data: PNG_B64.into(),
        mime_type: "image/png".into(),
    }
}

/// Tests simple text content response
#[mcp_tool(public)]
fn test_simple_text() -> &'static str {
    "This is a simple text response for testing."
}

/// Tests image content response
#[mcp_tool(public)]
fn test_image_content() -> C {
    image()
}

/// Tests audio content response
#[mcp_tool(public)]
fn test_audio_content() -> C {
    C::Audio {
        data: WAV_B64.into(),
        mime_type: "audio/wav".into(),
    }
}

/// Tests embedded resource content response
#[mcp_tool(public)]
fn test_embedded_resource() -> C {
    C::embedded_text(
        "test://embedded-resource",
        Some("text/plain".into()),
        "This is an embedded resource content.",
    )
}

/// Tests response with multiple content types (text, image, resource)
#[mcp_tool(public)]
fn test_multiple_content_types() -> Vec<C> {
    vec![
        C::text("Multiple content types test:"),
        image(),
        C::embedded_text(
            "test://mixed-content-resource",
            Some("application/json".into()),
            r#"{"test":"data","value":123}"#,
        ),
    ]
}

/// Tests tool that emits log messages during execution
#[mcp_tool(public)]
async fn test_tool_with_logging(ctx: RequestContext) -> &'static str {
    for step in [
        "Tool execution started",
        "Tool processing data",
        "Tool execution completed",
    ] {
        ctx.log(LogLevel::Info, None, step);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    "Tool with logging executed successfully"
}

/// Tests tool that reports progress notifications
#[mcp_tool(public)]
async fn test_tool_with_progress(ctx: RequestContext) -> String {
    for step in [0.0, 50.0, 100.0] {
        ctx.progress(
            step,
            Some(100.0),
            Some(&format!("Completed step {step} of 100")),
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    ctx.progress_token()
        .map_or_else(String::new, |token| match token {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
}

/// Tests error response handling
#[mcp_tool(public)]
fn test_error_handling() -> Result<String, ToolError> {
    Err(ToolError::new(
        "This tool intentionally returns an error for testing",
    ))
}

/// Tests SSE stream disconnection and client reconnection (SEP-1699)
#[mcp_tool(public)]
fn test_reconnection() -> &'static str {
    "Reconnection test completed successfully. If you received this, the client properly reconnected after stream closure."
}

/// Tests server-initiated sampling (LLM completion request)
#[mcp_tool(public)]
async fn test_sampling(
    ctx: RequestContext,
    #[arg(description = "The prompt to send to the LLM")] prompt: String,
) -> String {
    let request = json!({
        "messages": [{ "role": "user", "content": { "type": "text", "text": prompt } }],
        "maxTokens": 100,
    });
    match ctx.create_message(request).await {
        Ok(answer) => format!(
            "LLM response: {}",
            answer["content"]["text"].as_str().unwrap_or_default()
        ),
        Err(error) => format!("Sampling not supported or error: {error}"),
    }
}

async fn elicit(ctx: &RequestContext, message: &str, schema: Value, prefix: &str) -> String {
    match ctx.elicit(message, schema).await {
        Ok(answer) => format!(
            "{prefix}: action={}, content={}",
            answer["action"].as_str().unwrap_or_default(),
            answer["content"]
        ),
        Err(error) => format!("Elicitation not supported or error: {error}"),
    }
}

/// Tests server-initiated elicitation (user input request)
#[mcp_tool(public)]
async fn test_elicitation(
    ctx: RequestContext,
    #[arg(description = "The message to show the user")] message: String,
) -> String {
    let schema = json!({
        "type": "object",
        "properties": {
            "username": { "type": "string", "description": "User's response" },
            "email": { "type": "string", "description": "User's email address" },
        },
        "required": ["username", "email"],
    });
    elicit(&ctx, &message, schema, "User response").await
}

/// Tests elicitation with default values per SEP-1034
#[mcp_tool(public)]
async fn test_elicitation_sep1034_defaults(ctx: RequestContext) -> String {
    let schema = json!({
        "type": "object",
        "properties": {
            "name": { "type": "string", "description": "User name", "default": "John Doe" },
            "age": { "type": "integer", "description": "User age", "default": 30 },
            "score": { "type": "number", "description": "User score", "default": 95.5 },
            "status": {
                "type": "string", "description": "User status",
                "enum": ["active", "inactive", "pending"], "default": "active",
            },
            "verified": { "type": "boolean", "description": "Verification status", "default": true },
        },
        "required": [],
    });
    let message = "Please review and update the form fields with defaults";
    elicit(&ctx, message, schema, "Elicitation completed").await
}

/// Tests elicitation with enum schema improvements per SEP-1330
#[mcp_tool(public)]
async fn test_elicitation_sep1330_enums(ctx: RequestContext) -> String {
    let schema = json!({
        "type": "object",
        "properties": {
            "untitledSingle": {
                "type": "string", "description": "Select one option",
                "enum": ["option1", "option2", "option3"],
            },
            "titledSingle": {
                "type": "string", "description": "Select one option with titles",
                "oneOf": [
                    { "const": "value1", "title": "First Option" },
                    { "const": "value2", "title": "Second Option" },
                    { "const": "value3", "title": "Third Option" },
                ],
            },
            "legacyEnum": {
                "type": "string", "description": "Select one option (legacy)",
                "enum": ["opt1", "opt2", "opt3"],
                "enumNames": ["Option One", "Option Two", "Option Three"],
            },
            "untitledMulti": {
                "type": "array", "description": "Select multiple options", "minItems": 1, "maxItems": 3,
                "items": { "type": "string", "enum": ["option1", "option2", "option3"] },
            },
            "titledMulti": {
                "type": "array", "description": "Select multiple options with titles", "minItems": 1, "maxItems": 3,
                "items": { "anyOf": [
                    { "const": "value1", "title": "First Choice" },
                    { "const": "value2", "title": "Second Choice" },
                    { "const": "value3", "title": "Third Choice" },
                ] },
            },
        },
        "required": [],
    });
    let message = "Please select options from the enum fields";
    elicit(&ctx, message, schema, "Elicitation completed").await
}

/// The rules over several arguments of `json_schema_2020_12_tool`, at the root of its input
/// schema: a phone or an email, and the one `contactMethod` names.
fn contact_rules() -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "allOf": [{ "anyOf": [{ "required": ["phone"] }, { "required": ["email"] }] }],
        "if": { "properties": { "contactMethod": { "const": "phone" } }, "required": ["contactMethod"] },
        "then": { "required": ["phone"] },
        "else": { "required": ["email"] },
    })
}

/// Tests JSON Schema 2020-12 keywords in an input schema (SEP-1613, SEP-2106): a definition in
/// `$defs` with an `$anchor`, referenced by `$ref`, and no properties beyond those declared.
/// With `contactMethod` "phone" a phone is required, else an email.
#[mcp_tool(public, extend_schema = contact_rules)]
fn json_schema_2020_12_tool(
    name: Option<String>,
    address: Option<Address>,
    #[arg(rename = "contactMethod")] contact_method: Option<ContactMethod>,
    phone: Option<String>,
    email: Option<String>,
) -> Result<String, ToolError> {
    // The rules its schema states at its root (`contact_rules`), enforced here too: a schema
    // tells clients, it does not bind them.
    let (field, given) = match contact_method {
        Some(ContactMethod::Phone) => ("phone", phone.is_some()),
        _ => ("email", email.is_some()),
    };
    if !given {
        return Err(ToolError::new(format!("`{field}` is required")));
    }
    let args = json!({
        "name": name,
        "address": address,
        "contactMethod": contact_method,
        "phone": phone,
        "email": email,
    });
    Ok(format!("JSON Schema 2020-12 tool called with: {args}"))
}

/// A postal address.
#[derive(Debug, serde::Deserialize, serde::Serialize, schemars::JsonSchema)]
// Named and anchored as the scenario's schema has it: `$defs.address`, `addressDef`.
#[schemars(rename = "address", extend("$anchor" = "addressDef"))]
struct Address {
    street: Option<String>,
    city: Option<String>,
}

/// How to reach the caller.
#[derive(Debug, Clone, Copy, serde::Deserialize, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(inline)]
enum ContactMethod {
    Phone,
    Email,
}

/// Tests parameter headers (SEP-2243): clients mirror `region` into `Mcp-Param-Region`, which
/// must agree with the body
#[mcp_tool(public)]
fn test_custom_header(
    #[arg(header = "Region", description = "The region to route the call to")] region: String,
) -> String {
    format!("Region: {region}")
}

/// Tests that a 2026-07-28 request hears log messages only when its `_meta` sets a log level
/// (SEP-2575)
#[mcp_tool(public)]
fn test_logging_tool(ctx: RequestContext) -> String {
    let sent = ctx.log(LogLevel::Info, None, "test_logging_tool ran");
    format!("Logging evaluated: message sent={sent}")
}

/// Tests that a request needing the client's sampling capability is refused when its `_meta`
/// does not declare it (SEP-2575: -32021, MissingRequiredClientCapability)
#[mcp_tool(public)]
async fn test_missing_capability(ctx: RequestContext) -> Result<String, ToolError> {
    let request = json!({
        "messages": [{ "role": "user", "content": { "type": "text", "text": "Say hello" } }],
        "maxTokens": 20,
    });
    let answer = ctx.create_message(request).await?;
    Ok(format!(
        "LLM response: {}",
        answer["content"]["text"].as_str().unwrap_or_default()
    ))
}

/// Tests that a tool asking the user for input never puts a request of its own on the
/// response stream (SEP-2575): in 2026-07-28 the question travels back in the result
#[mcp_tool(public)]
async fn test_streaming_elicitation(ctx: RequestContext) -> String {
    ctx.progress(50.0, Some(100.0), Some("Asking for confirmation"));
    let schema = json!({
        "type": "object",
        "properties": { "confirm": { "type": "boolean", "description": "Go ahead?" } },
        "required": ["confirm"],
    });
    elicit(&ctx, "Please confirm", schema, "Elicitation completed").await
}

/// A static text resource for testing
#[mcp_resource(
    uri = "test://static-text",
    name = "static-text",
    title = "Static Text Resource",
    mime_type = "text/plain",
    public
)]
fn static_text() -> &'static str {
    "This is the content of the static text resource."
}

/// A static binary resource (image) for testing
#[mcp_resource(
    uri = "test://static-binary",
    name = "static-binary",
    title = "Static Binary Resource",
    mime_type = "image/png",
    public
)]
fn static_binary() -> ResourceContents {
    ResourceContents::Blob {
        uri: "test://static-binary".into(),
        mime_type: Some("image/png".into()),
        blob: PNG_B64.into(),
    }
}

/// A resource that auto-updates every 3 seconds
#[mcp_resource(
    uri = "test://watched-resource",
    name = "watched-resource",
    title = "Watched Resource",
    mime_type = "text/plain",
    public
)]
fn watched_resource() -> &'static str {
    "Watched resource content"
}

/// A resource template with parameter substitution
#[mcp_resource(
    uri = "test://template/{id}/data",
    name = "template",
    title = "Resource Template",
    mime_type = "application/json",
    public
)]
fn template(id: String) -> String {
    json!({ "id": id, "templateTest": true, "data": format!("Data for ID: {id}") }).to_string()
}

/// A simple prompt without arguments
#[mcp_prompt(public, title = "Simple Test Prompt")]
fn test_simple_prompt() -> &'static str {
    "This is a simple prompt for testing."
}

fn suggest(value: &str) -> Vec<String> {
    ["testValue1", "testValue2"]
        .iter()
        .filter(|v| v.starts_with(value))
        .map(|v| (*v).to_owned())
        .collect()
}

/// A prompt with required arguments
#[mcp_prompt(public, title = "Prompt With Arguments")]
fn test_prompt_with_arguments(
    #[arg(description = "First test argument", complete = suggest)] arg1: String,
    #[arg(description = "Second test argument")] arg2: String,
) -> String {
    format!("Prompt with arguments: arg1='{arg1}', arg2='{arg2}'")
}

/// A prompt that includes an embedded resource
#[mcp_prompt(public, title = "Prompt With Embedded Resource")]
fn test_prompt_with_embedded_resource(
    #[arg(rename = "resourceUri", description = "URI of the resource to embed")]
    resource_uri: String,
) -> Vec<PromptMessage> {
    vec![
        PromptMessage {
            role: Role::User,
            content: C::embedded_text(
                resource_uri,
                Some("text/plain".into()),
                "Embedded resource content for testing.",
            ),
        },
        PromptMessage::user("Please process the embedded resource above."),
    ]
}

/// A prompt that includes image content
#[mcp_prompt(public, title = "Prompt With Image")]
fn test_prompt_with_image() -> Vec<PromptMessage> {
    vec![
        PromptMessage {
            role: Role::User,
            content: image(),
        },
        PromptMessage::user("Please analyze the image above."),
    ]
}

// ---- 2026-07-28 input requests (SEP-2322): each asks under the key the suite expects, and runs
// again from its start with the answers (see `RequestContext`).

fn string_field(name: &str) -> Value {
    json!({
        "type": "object",
        "properties": { name: { "type": "string" } },
        "required": [name],
    })
}

fn accepted<'a>(answer: &'a Value, field: &str) -> &'a str {
    answer["content"][field].as_str().unwrap_or_default()
}

fn sampling(text: &str, max_tokens: u32) -> Value {
    json!({
        "messages": [{ "role": "user", "content": { "type": "text", "text": text } }],
        "maxTokens": max_tokens,
    })
}

/// Asks the user's name (input request), then greets them
#[mcp_tool(public)]
async fn test_input_required_result_elicitation(ctx: RequestContext) -> Result<String, ToolError> {
    let answer = ctx
        .input("user_name")
        .elicit("What is your name?", string_field("name"))
        .await?;
    Ok(format!("Hello, {}!", accepted(&answer, "name")))
}

/// Asks the client's model a question (input request), then returns its answer
#[mcp_tool(public)]
async fn test_input_required_result_sampling(ctx: RequestContext) -> Result<String, ToolError> {
    let answer = ctx
        .input("capital_question")
        .create_message(sampling("What is the capital of France?", 100))
        .await?;
    Ok(format!(
        "The model said: {}",
        answer["content"]["text"].as_str().unwrap_or_default()
    ))
}

/// Asks the client for its roots (input request), then names them
#[mcp_tool(public)]
async fn test_input_required_result_list_roots(ctx: RequestContext) -> Result<String, ToolError> {
    let answer = ctx.input("client_roots").list_roots().await?;
    let roots: Vec<&str> = answer["roots"]
        .as_array()
        .map(|roots| roots.iter().filter_map(|r| r["uri"].as_str()).collect())
        .unwrap_or_default();
    Ok(format!("Client roots: {}", roots.join(", ")))
}

/// Asks for a confirmation carried through the sealed request state
#[mcp_tool(public)]
async fn test_input_required_result_request_state(
    ctx: RequestContext,
) -> Result<String, ToolError> {
    let schema = json!({
        "type": "object",
        "properties": { "ok": { "type": "boolean" } },
        "required": ["ok"],
    });
    let answer = ctx
        .input("confirm")
        .elicit("Please confirm", schema)
        .await?;
    // Reaching here means the state opened: sealed, unexpired, bound to this call, unused.
    Ok(format!("state-ok: confirmed={}", answer["content"]["ok"]))
}

/// Asks for a name, a greeting from the model and the roots, all in one round
#[mcp_tool(public)]
async fn test_input_required_result_multiple_inputs(
    ctx: RequestContext,
) -> Result<String, ToolError> {
    let (name, greeting, roots) = tokio::join!(
        ctx.input("user_name")
            .elicit("What is your name?", string_field("name")),
        ctx.input("greeting")
            .create_message(sampling("Generate a greeting", 50)),
        ctx.input("client_roots").list_roots(),
    );
    let (name, greeting, roots) = (name?, greeting?, roots?);
    Ok(format!(
        "name={}, greeting={}, roots={}",
        accepted(&name, "name"),
        greeting["content"]["text"].as_str().unwrap_or_default(),
        roots["roots"].as_array().map_or(0, Vec::len)
    ))
}

/// Asks twice, one round after the other
#[mcp_tool(public)]
async fn test_input_required_result_multi_round(ctx: RequestContext) -> Result<String, ToolError> {
    let name = ctx
        .input("step1")
        .elicit("Step 1: What is your name?", string_field("name"))
        .await?;
    let color = ctx
        .input("step2")
        .elicit(
            "Step 2: What is your favorite color?",
            string_field("color"),
        )
        .await?;
    Ok(format!(
        "{} likes {}",
        accepted(&name, "name"),
        accepted(&color, "color")
    ))
}

/// Asks for a confirmation; a tampered request state is refused before it runs again
#[mcp_tool(public)]
async fn test_input_required_result_tampered_state(
    ctx: RequestContext,
) -> Result<String, ToolError> {
    let schema = json!({ "type": "object", "properties": { "ok": { "type": "boolean" } } });
    let answer = ctx
        .input("confirm")
        .elicit("Please confirm", schema)
        .await?;
    Ok(format!("confirmed={}", answer["content"]["ok"]))
}

/// Asks only for what the client declared it can answer
#[mcp_tool(public)]
async fn test_input_required_result_capabilities(ctx: RequestContext) -> Result<String, ToolError> {
    let mut said = Vec::new();
    if ctx.client_supports("sampling") {
        let answer = ctx
            .input("capital_question")
            .create_message(sampling("What is the capital of France?", 100))
            .await?;
        said.push(format!(
            "model: {}",
            answer["content"]["text"].as_str().unwrap_or_default()
        ));
    }
    if ctx.client_supports("elicitation") {
        let answer = ctx
            .input("user_name")
            .elicit("What is your name?", string_field("name"))
            .await?;
        said.push(format!("user: {}", accepted(&answer, "name")));
    }
    if said.is_empty() {
        said.push("the client declared neither sampling nor elicitation".into());
    }
    Ok(said.join("; "))
}

/// A prompt built from context the user gives (an input request on `prompts/get`)
#[mcp_prompt(public, title = "Prompt Needing Input")]
async fn test_input_required_result_prompt(ctx: RequestContext) -> Result<String, PromptError> {
    let answer = ctx
        .input("user_context")
        .elicit(
            "What context should the prompt use?",
            string_field("context"),
        )
        .await
        .map_err(|e| PromptError::Failed(e.to_string()))?;
    Ok(format!(
        "Use this context: {}",
        accepted(&answer, "context")
    ))
}

// ---- the tasks extension (2026-07-28, SEP-2663): tools whose calls may run as tasks.

/// Greets by name (never a task)
#[mcp_tool(public)]
fn greet(name: String) -> String {
    format!("Hello, {name}!")
}

/// Sleeps for `seconds`, then answers; a task when the client supports tasks and it has to wait
#[mcp_tool(public, task)]
async fn slow_compute(seconds: u64, label: Option<String>) -> String {
    if seconds > 0 {
        tokio::time::sleep(Duration::from_secs(seconds)).await;
    }
    format!(
        "computed {} after {seconds}s",
        label.as_deref().unwrap_or("result")
    )
}

/// Fails as a tool after a second; always a task
#[mcp_tool(public, task = "required")]
async fn failing_job() -> Result<String, ToolError> {
    tokio::time::sleep(Duration::from_secs(1)).await;
    Err(ToolError::new("the job failed"))
}

/// Fails as a protocol error (its handler panics) after a moment
#[mcp_tool(public, task)]
async fn protocol_error_job() -> String {
    tokio::time::sleep(Duration::from_millis(200)).await;
    panic!("protocol_error_job breaks on purpose")
}

/// Deletes a file once the user confirms, the question asked by the task
#[mcp_tool(public, task, destructive)]
async fn confirm_delete(filename: String, ctx: RequestContext) -> Result<String, ToolError> {
    ctx.run_as_task().await;
    let schema = json!({
        "type": "object",
        "properties": { "confirm": { "type": "boolean" } },
        "required": ["confirm"],
    });
    let answer = ctx
        .input("confirm")
        .elicit(&format!("Delete {filename}?"), schema)
        .await?;
    let confirmed = answer["action"] == "accept" && answer["content"]["confirm"] == true;
    Ok(if confirmed {
        format!("deleted {filename}")
    } else {
        format!("kept {filename}")
    })
}

/// Asks two questions at once, from the task
#[mcp_tool(public, task)]
async fn multi_input(ctx: RequestContext) -> Result<String, ToolError> {
    ctx.run_as_task().await;
    let (name, confirm) = tokio::join!(
        ctx.input("name").elicit("Your name?", string_field("name")),
        ctx.input("confirm").elicit(
            "Go ahead?",
            json!({ "type": "object", "properties": { "confirm": { "type": "boolean" } } }),
        ),
    );
    let (name, confirm) = (name?, confirm?);
    Ok(format!(
        "{} said {}",
        accepted(&name, "name"),
        confirm["content"]["confirm"]
    ))
}

/// Asks the user's name in the request, then works on as a task
#[mcp_tool(public, task = "required")]
async fn test_tool_with_task(ctx: RequestContext) -> Result<String, ToolError> {
    let answer = ctx
        .input("user_name")
        .elicit("What is your name?", string_field("name"))
        .await?;
    tokio::time::sleep(Duration::from_millis(100)).await;
    Ok(format!(
        "Hello, {}! (from a task)",
        accepted(&answer, "name")
    ))
}

#[derive(McpServer)]
#[mcp(
    name = "mcp-conformance-test-server",
    version = "1.0.0",
    tools(
        test_simple_text,
        test_image_content,
        test_audio_content,
        test_embedded_resource,
        test_multiple_content_types,
        test_tool_with_logging,
        test_tool_with_progress,
        test_error_handling,
        test_reconnection,
        test_sampling,
        test_elicitation,
        test_elicitation_sep1034_defaults,
        test_elicitation_sep1330_enums,
        json_schema_2020_12_tool,
        test_custom_header,
        test_logging_tool,
        test_missing_capability,
        test_streaming_elicitation,
        test_input_required_result_elicitation,
        test_input_required_result_sampling,
        test_input_required_result_list_roots,
        test_input_required_result_request_state,
        test_input_required_result_multiple_inputs,
        test_input_required_result_multi_round,
        test_input_required_result_tampered_state,
        test_input_required_result_capabilities,
        greet,
        slow_compute,
        failing_job,
        protocol_error_job,
        confirm_delete,
        multi_input,
        test_tool_with_task,
    ),
    resources(static_text, static_binary, watched_resource, template),
    prompts(
        test_simple_prompt,
        test_prompt_with_arguments,
        test_prompt_with_embedded_resource,
        test_prompt_with_image,
        test_input_required_result_prompt,
    )
)]
struct Conformance;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let mut addr: std::net::SocketAddr = ([127, 0, 0, 1], 3001).into();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--addr", Some(value)) => match value.parse() {
                Ok(value) => addr = value,
                Err(e) => {
                    eprintln!("conformance: --addr {value}: {e}");
                    return std::process::ExitCode::FAILURE;
                }
            },
            _ => {
                eprintln!("conformance: usage: conformance [--addr 127.0.0.1:PORT]");
                return std::process::ExitCode::FAILURE;
            }
        }
    }
    let result: Result<(), Box<dyn std::error::Error>> = async {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let resource = format!("http://{}/mcp", listener.local_addr()?);
        let router = Conformance
            .into_server()?
            .http(HttpConfig::new(&resource).without_authorization())?;
        eprintln!("MCP endpoint: {resource}");
        scopegate::http::serve_on(listener, router).await?;
        Ok(())
    }
    .await;
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("conformance: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
