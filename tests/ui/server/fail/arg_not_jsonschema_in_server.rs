use scopegate::prelude::*;

#[derive(serde::Deserialize)]
struct Point {
    x: i32,
}

/// Plots a point.
#[mcp_tool(public)]
fn plot(point: Point) -> String {
    point.x.to_string()
}

#[derive(McpServer)]
#[mcp(name = "plot", version = "1.0.0", tools(plot))]
struct Plotter;

fn main() {
    let _ = Server::new(Plotter);
}
