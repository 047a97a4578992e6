use scopegate::prelude::*;

/// A prompt that forgot to say who may use it.
#[mcp_prompt(title = "Summary")]
fn summarize(topic: String) -> String {
    topic
}

fn main() {
    let _ = summarize(String::new());
}
