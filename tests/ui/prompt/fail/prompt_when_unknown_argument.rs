use scopegate::prelude::*;

/// The clause names `tone`, the prompt takes `topic`.
#[mcp_prompt(scope = "notes:read", when(tone == "formal" => "notes:formal"))]
fn summarize(topic: String) -> String {
    topic
}

fn main() {
    let _ = summarize(String::new());
}
