use scopegate::prelude::*;

#[derive(schemars::JsonSchema)]
struct Point {
    x: i32,
    y: i32,
}

/// Plots a point.
#[mcp_tool(public)]
fn plot(label: String, point: Point) -> String {
    format!("{label} {} {}", point.x, point.y)
}

fn main() {
    let _ = plot(String::new(), Point { x: 0, y: 0 });
}
