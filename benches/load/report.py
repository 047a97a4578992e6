"""The load comparison's figures as people read them: the tables of BENCHMARKS.md and the
README, and a plot (SVG) of req/s and CPU time per request per row, all from one run's JSON
(`target/bench/load.json`, written by `scripts/bench`).

    python3 benches/load/report.py [target/bench/load.json]

rewrites the marked tables (`<!-- bench:NAME -->` ... `<!-- /bench:NAME -->`) in BENCHMARKS.md
and README.md, and writes benches/results/load.json and benches/results/load.svg.
`scripts/bench --publish` does the same at the end of its run.
"""

import html
import json
import math
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RESULTS = os.path.join(ROOT, "benches", "results")

# The README's rows: the ceiling, scopegate, the peers.
README_ROWS = [
    ("axum", "bare axum JSON-RPC handler, typed (the ceiling)"),
    ("scopegate-auth", "scopegate, RS256 bearer tokens, scope check"),
    ("scopegate-limits", "the same with rate limits and in-flight cap on"),
    ("scopegate", "scopegate, authorization off"),
    ("rmcp", "rmcp 3.11, no auth"),
    ("rmcp-jwt", "rmcp 3.11 behind a jsonwebtoken middleware"),
    ("ts-sdk-auth", "TypeScript SDK 1.32 with bearer auth"),
]


def number(value, digits=0):
    """1234567 -> '1 234 567' (thin groups, as the tables have always been written)."""
    text = f"{value:,.{digits}f}"
    return text.replace(",", " ")


def ratio(value):
    return f"{value:.3f}×" if value < 0.1 else f"{value:.2f}×"


def cpu(value):
    return number(value, 1) if value < 100 else number(value)


def machine_line(data):
    m = data["machine"]
    a = data["args"]
    return (f"{m['date']}, commit `{m['commit']}`: {m['cpu']}, {m['cores']} cores, "
            f"{m['memory_gib']} GiB, Linux {m['kernel']}; {m['rustc']}; {m['wrk']}, "
            f"`-t{a['threads']} -c{a['connections']}`, {slicing(a)}, "
            f"{a['rounds']} rounds; Node {m['node']}")


def slicing(a):
    """How each row's load was spread over a round (runs before --slices had one run each)."""
    slices = a.get("slices", 1)
    if slices == 1:
        return f"{a['duration']} s per run, the order rotating every round"
    return (f"{a['duration']} s per row and round in {slices} runs of "
            f"{a['duration'] // slices} s taking turns, the order rotating every turn")


def latest_table(data):
    rows = data["rows"]
    lines = [
        f"Run: {machine_line(data)}. Command: `scripts/bench --publish`.",
        "",
        "| row | what | median req/s | ÷ ceiling, per round | CPU µs/request | thread switches/request | p99 ms |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for name, row in rows.items():
        per_round = ratio(row["median_round_ratio"]) if "median_round_ratio" in row else ""
        switches = f"{row['median_switches']:.3f}" if "median_switches" in row else ""
        lines.append(f"| `{name}` | {row['what']} | {number(row['median_rps'])} | {per_round} | "
                     f"{cpu(row['median_cpu_us'])} | {switches} | {row['median_p99_ms']:.2f} |")
    lines += [
        "",
        "| target | measured: median of the per-round ratios (the rounds' spread) | |",
        "|---|---:|---|",
    ]
    for t in data["targets"]:
        sign = "≤" if t["measure"] == "cpu" else "≥"
        spread = f"{min(t['rounds']):.2f}–{max(t['rounds']):.2f}"
        verdict = "**met**" if t["met"] else "**not met**"
        if t["spread_crosses_target"]:
            verdict += " (some rounds on the other side)"
        lines.append(f"| {t['label']}: {sign} {t['target']}× | {t['median']:.2f}× "
                     f"({spread}) | {verdict} |")
    if data.get("comparisons"):
        lines += [
            "",
            "| also measured | req/s ratio (spread) | CPU ratio |",
            "|---|---:|---:|",
        ]
        for c in data["comparisons"]:
            lines.append(f"| {c['label']} (`{c['row']}` ÷ `{c['against']}`) | "
                         f"{ratio(c['rps'])} ({min(c['rps_rounds']):.2f}–"
                         f"{max(c['rps_rounds']):.2f}) | {ratio(c['cpu'])} |")
    return "\n".join(lines)


def readme_table(data):
    rows = data["rows"]
    lines = [
        "| server | req/s | ÷ bare axum | CPU µs/request |",
        "|---|---:|---:|---:|",
    ]
    for name, label in README_ROWS:
        if name not in rows:
            continue
        row = rows[name]
        per_round = ratio(row["median_round_ratio"]) if "median_round_ratio" in row else ""
        lines.append(f"| {label} | {number(row['median_rps'])} | {per_round} | "
                     f"{cpu(row['median_cpu_us'])} |")
    m = data["machine"]
    lines += ["", f"({m['date']}, {m['cores']} cores, `scripts/bench`, medians of "
              f"{data['args']['rounds']} rounds.)"]
    return "\n".join(lines)


def svg(data):
    """Two log-scale bar charts side by side, one bar per row: req/s and CPU µs per request."""
    rows = list(data["rows"].items())
    label_w, chart_w, gap, bar_h, row_h, top = 150, 300, 80, 14, 20, 48
    width = label_w + 2 * chart_w + gap + 20
    height = top + row_h * len(rows) + 30
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="10" y="16" font-size="13" font-weight="bold">{html.escape(machine_title(data))}'
           '</text>']

    def chart(x0, title, values, colour, fmt):
        low = 10 ** math.floor(math.log10(max(min(values), 1e-9)))
        high = 10 ** math.ceil(math.log10(max(values)))
        span = math.log10(high) - math.log10(low) or 1
        out.append(f'<text x="{x0}" y="{top - 12}" font-weight="bold">{html.escape(title)} '
                   '(log scale)</text>')
        decade = low
        while decade <= high:
            x = x0 + chart_w * (math.log10(decade) - math.log10(low)) / span
            out.append(f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" '
                       f'y2="{top + row_h * len(rows)}" stroke="#ddd"/>')
            out.append(f'<text x="{x:.1f}" y="{top + row_h * len(rows) + 14}" '
                       f'text-anchor="middle" fill="#666">{fmt(decade)}</text>')
            decade *= 10
        for i, value in enumerate(values):
            w = chart_w * (math.log10(max(value, low)) - math.log10(low)) / span
            y = top + i * row_h
            out.append(f'<rect x="{x0}" y="{y}" width="{w:.1f}" height="{bar_h}" '
                       f'fill="{colour}"/>')
            out.append(f'<text x="{x0 + w + 3:.1f}" y="{y + bar_h - 3}">{fmt(value)}</text>')

    for i, (name, _) in enumerate(rows):
        y = top + i * row_h + bar_h - 3
        out.append(f'<text x="{label_w - 6}" y="{y}" text-anchor="end">{html.escape(name)}'
                   '</text>')
    chart(label_w, "req/s", [r["median_rps"] for _, r in rows], "#3b7dd8",
          lambda v: number(v))
    chart(label_w + chart_w + gap, "CPU µs per request", [r["median_cpu_us"] for _, r in rows],
          "#d8823b", lambda v: cpu(v))
    out.append("</svg>")
    return "\n".join(out) + "\n"


def machine_title(data):
    m = data["machine"]
    return (f"scopegate load comparison, {m['date']}: {m['cores']} cores, wrk "
            f"-t{data['args']['threads']} -c{data['args']['connections']}, medians of "
            f"{data['args']['rounds']} rounds")


def replace_marked(path, name, text):
    with open(path) as f:
        content = f.read()
    pattern = re.compile(rf"(<!-- bench:{name} -->\n)(?:.*?\n)?(<!-- /bench:{name} -->)", re.S)
    if not pattern.search(content):
        raise SystemExit(f"{path} has no <!-- bench:{name} --> section")
    content = pattern.sub(lambda m: m.group(1) + text + "\n" + m.group(2), content)
    with open(path, "w") as f:
        f.write(content)


def publish(data):
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, "load.json"), "w") as f:
        json.dump(data, f, indent=1)
        f.write("\n")
    with open(os.path.join(RESULTS, "load.svg"), "w") as f:
        f.write(svg(data))
    replace_marked(os.path.join(ROOT, "BENCHMARKS.md"), "latest", latest_table(data))
    replace_marked(os.path.join(ROOT, "README.md"), "readme", readme_table(data))
    print("(published: BENCHMARKS.md, README.md, benches/results/load.json and load.svg)")


if __name__ == "__main__":
    source = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "target", "bench",
                                                                  "load.json")
    with open(source) as f:
        publish(json.load(f))
