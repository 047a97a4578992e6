use scopegate::prelude::*;

struct Notes {
    count: usize,
}

impl Notes {
    /// Counts the notes.
    #[mcp_tool(scope = "notes:read")]
    fn count(&self) -> String {
        self.count.to_string()
    }
}

fn main() {
    let _ = Notes { count: 0 }.count();
}
