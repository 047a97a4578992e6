use scopegate::prelude::*;

#[derive(Clone)]
struct Pool;

/// Counts rows.
#[mcp_tool(scope = "db:read")]
fn count(pool: State<Pool>) -> String {
    let _ = pool;
    String::new()
}

#[derive(McpServer)]
#[mcp(name = "db", version = "1.0.0", tools(count))]
struct Db {
    #[mcp(sate)]
    pool: Pool,
}

fn main() {
    let _ = Server::new(Db { pool: Pool });
}
