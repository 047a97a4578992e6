use scopegate::prelude::*;

struct Pool;

/// Counts rows.
#[mcp_tool(scope = "db:read")]
fn count(pool: State<Pool>) -> String {
    let _ = pool;
    String::new()
}

#[derive(McpServer)]
#[mcp(name = "db", version = "1.0.0", tools(count))]
struct Db;

fn main() {
    let _ = Server::new(Db);
}
