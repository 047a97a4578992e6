use scopegate::prelude::*;

/// Runs a query for a tenant.
#[mcp_tool(public)]
fn query(#[arg(header = "Tenant Id")] tenant: String) -> String {
    tenant
}

fn main() {
    let _ = query(String::new());
}
