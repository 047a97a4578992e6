use scopegate::prelude::*;

/// A tool.
#[mcp_tool(scope = "shop:buy", when(price == 9.99 => "shop:expensive"))]
fn buy(price: f64) -> String {
    price.to_string()
}

fn main() {
    let _ = buy(0.0);
}
