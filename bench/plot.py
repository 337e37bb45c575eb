#!/usr/bin/python3
"""Charts of the HTTP benchmarks, drawn with gnuplot (Debian's gnuplot-nox) as SVG.

  bench/plot.py [RESULTS_DIR]     default bench/results

Reads the medians bench/http.sh writes to RESULTS_DIR/http.json and bench/http_client.py to
RESULTS_DIR/http_client.json (whichever exist) and writes, beside them:

  server_cpu.svg   server CPU µs per request, keep-alive and pipelined, with each one's ratio to
                   the raw io_uring loop (the floor; dashed line)
  latency.svg      wrk's p50 and p99 per server at 64 connections, p99's ratio to nginx's
  memory.svg       RSS per idle connection, sequential and after the burst, with the ratio to
                   nginx's; and the RSS left once the burst's connections have all closed
  client_cpu.svg   client CPU µs per request (ringo's Transport, wrk, Go's http.Client) with the
                   ratio to wrk (the floor for a load generator; dashed line)

bench/run calls it after the benchmarks. README.md embeds copies kept in bench/charts/
(cp bench/results/*.svg bench/charts/ after a run whose figures README.md quotes). Without
gnuplot it says so and draws nothing.
"""

import json
import math
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SHORT = {"raw": "raw io_uring loop", "ringo": "ringo hello_server",
         "ringo_plain": "ringo, recv per read", "nginx": "nginx, 1 worker",
         "go": "Go net/http", "wrk": "wrk -t1"}
CLIENT_SHORT = {"ringo": "ringo Transport", "wrk": "wrk -t1", "go": "Go http.Client"}
COLOR = {"raw": "#8c8c8c", "ringo": "#1f5fbf", "ringo_plain": "#7fa6df", "nginx": "#2e8b3e",
         "go": "#17a2b8",
         "wrk": "#8c8c8c"}
LIGHT, DARK = "#9dbbe6", "#1f4e99"  # two series in one chart (p50/p99, sequential/burst)
FONT = "Helvetica,13"


def say(msg):
    print(f"plot: {msg}", file=sys.stderr, flush=True)


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        return None


def valid(v):
    return v is not None and not (isinstance(v, float) and math.isnan(v))


def rgb(color):
    return int(color.lstrip("#"), 16)


def us_text(v):
    return f"{v / 1000:.2f} ms" if v >= 1000 else f"{v:.0f} µs"


def bytes_text(v):
    return f"{v:,.0f} B"


class Panel:
    """One horizontal bar chart: categories down the y axis (first on top), one or more series of
    bars per category, a text label at the end of each bar, an optional dashed reference line."""

    def __init__(self, title, xlabel, cats, log=False):
        self.title, self.xlabel, self.cats, self.log = title, xlabel, cats, log
        self.series = []  # (name or None, [(value, label, color)] per category)
        self.ref = None   # (x, text)

    def add(self, name, bars):
        self.series.append((name, bars))

    def reference(self, x, text):
        if valid(x):
            self.ref = (x, text)

    def script(self, key, footnote=None):
        n, k = len(self.cats), len(self.series)
        height = 0.8 / k  # bar thickness; the series of a category share 0.8
        lines, plots = [], []
        values = [v for _, bars in self.series for v, _, _ in bars if valid(v)] or [1]
        top = max(values)
        if self.log:  # from the decade below the smallest bar; room on the right for the labels
            low = 10 ** math.floor(math.log10(min(values)))
            if min(values) < 2 * low:  # a bar long enough to see
                low /= 10
            xrange = f"set xrange [{low!r}:{top * 30!r}]"
        else:
            low = 0
            xrange = f"set xrange [0:{top * 2.1!r}]"
        for j, (name, bars) in enumerate(self.series):
            block = f"$d{key}_{j}"
            lines.append(f"{block} << EOD")
            for i, (v, label, color) in enumerate(bars):
                if valid(v):
                    y = i - 0.4 + height * (j + 0.5)
                    text = f"{name}: {label}" if name else label
                    lines.append(f'{v!r} {y!r} "{text}" {rgb(color)}')
            lines.append("EOD")
            half = height / 2 * 0.9
            plots.append(f"{block} using 1:2:({low!r}):1:($2-{half!r}):($2+{half!r}):4 "
                         "with boxxyerror lc rgb variable notitle")
            plots.append(f"{block} using 1:2:3 with labels left offset char 0.6,0 "
                         "font ',12' notitle")
        ytics = ", ".join(f'"{c}" {i}' for i, c in enumerate(self.cats))
        lines += [
            f"set title '{self.title}'",
            f'set xlabel "{self.xlabel}' + (f'\\ndashed line: {self.ref[1]}"' if self.ref else '"'),
            f"set ytics ({ytics})",
            f"set yrange [{n - 0.5}:-0.5]",
            xrange,
            "set logscale x" if self.log else "unset logscale x",
            "unset key",  # each bar's label names its series
            "unset arrow",
            "unset label",
        ]
        if self.ref:
            x = self.ref[0]
            lines.append(f"set arrow from {x!r},graph 0 to {x!r},graph 1 nohead dt 2 lw 1.5 "
                         "lc rgb '#444444' front")
        if footnote:
            lines.append(f"set label '{footnote}' at screen 0.01,0.025 font ',10' "
                         "textcolor rgb '#555555'")
        lines.append("plot " + ", \\\n  ".join(plots))
        return "\n".join(lines)


def render(path, title, footnote, panels, width=None, height=None):
    width = width or 640 * len(panels)
    height = height or 170 + 40 * max(len(p.cats) * len(p.series) for p in panels)
    script = [
        "set encoding utf8",
        f"set terminal svg size {width},{height} dynamic noenhanced font '{FONT}' "
        "background rgb 'white'",
        f"set output '{path}'",
        "set style fill solid 0.9 border lc rgb '#333333'",
        "set grid xtics lc rgb '#dddddd' lt 1",
        "set border 3",
        "set xtics nomirror",
        "set ytics nomirror scale 0",
        "set format x '%g'",
        "set lmargin 22",
        "set bmargin 6",
        f"set multiplot layout 1,{len(panels)} title '{title}' font ',15'",
    ]
    for i, p in enumerate(panels):
        script.append(p.script(i, footnote if i == 0 else None))
    script += ["unset multiplot", "set output"]
    r = subprocess.run(["gnuplot"], input="\n".join(script), text=True, capture_output=True)
    if r.returncode != 0:
        raise RuntimeError(f"gnuplot failed for {path}:\n{r.stderr}")
    say(f"wrote {path}")


def footnote_of(data, what):
    return (f"{what}, median of {data['rounds']} round(s), {data.get('date', '')[:10]}; "
            f"{data.get('machine', '')}")


def ratio_text(v, base, name):
    return f" · {v / base:.2f}× {name}" if valid(v) and valid(base) and base else ""


def server_charts(data, out):
    order = data["order"]
    med = {s: data["servers"][s]["median"] for s in order}
    cats = [SHORT.get(s, s) for s in order]
    raw = med.get("raw", {})

    panels = []
    for key, title in (("us", f"keep-alive, {data['connections']} connections"),
                       ("pus", f"pipelined ×{data['pipeline_depth']}")):
        p = Panel(title, "server CPU µs per request (lower is better)", cats)
        base = raw.get(key)
        p.add(None, [(med[s][key], f"{med[s][key]:.2f} µs" + ratio_text(med[s][key], base, "raw"),
                      COLOR.get(s, "#666666")) if valid(med[s][key]) else (None, "", "#000000")
                     for s in order])
        p.reference(base, "raw loop")
        panels.append(p)
    note = footnote_of(data, "bench/http.sh: each server pinned to one core, wrk -t1 to the other")
    render(os.path.join(out, "server_cpu.svg"), "HTTP server: CPU time per request", note, panels)

    nginx = med.get("nginx", {})
    p = Panel(f"wrk --latency, {data['connections']} keep-alive connections",
              "latency (lower is better)", cats)
    for q, color in (("p50", LIGHT), ("p99", DARK)):
        bars = []
        for s in order:
            v = med[s][q]
            if not valid(v):
                bars.append((None, "", color))
                continue
            label = us_text(v) + (ratio_text(v, nginx.get(q), "nginx") if q == "p99" else "")
            bars.append((v / 1000, label, color))
        p.add(q, bars)
    p.xlabel = "latency, ms (lower is better)"
    if valid(nginx.get("p99")):
        p.reference(nginx["p99"] / 1000, "nginx p99")
    render(os.path.join(out, "latency.svg"), "HTTP server: latency percentiles",
           footnote_of(data, "bench/http.sh"), [p], width=820)

    p = Panel(f"RSS per idle connection: {data['idle_connections']:,} opened one by one, "
              f"{data['burst_connections']:,} in a burst", "bytes, log scale (lower is better)",
              cats, log=True)
    for key, name, color in (("mem", "one by one", LIGHT), ("burst_mem", "burst", DARK)):
        p.add(name, [(med[s].get(key), bytes_text(med[s][key]) +
                      ratio_text(med[s][key], nginx.get(key), "nginx"), color)
                     if valid(med[s].get(key)) else (None, "", color) for s in order])
    p.reference(nginx.get("mem"), "nginx, one by one")
    left = Panel("RSS left once the burst has closed", "MiB above the RSS before, log scale",
                 cats, log=True)
    left.add(None, [(max(med[s]["burst_left_mib"], 0.01), f"{med[s]['burst_left_mib']:.1f} MiB",
                     COLOR.get(s, "#666666")) if valid(med[s].get("burst_left_mib"))
                    else (None, "", "#000000") for s in order])
    left.reference(nginx.get("burst_left_mib"), "nginx")
    render(os.path.join(out, "memory.svg"), "HTTP server: memory per idle connection",
           footnote_of(data, "bench/http.sh"), [p, left], width=1280)


def client_chart(data, out):
    order = data["order"]
    med = {c: data["clients"][c]["median"] for c in order}
    wrk = med.get("wrk", {}).get("cpu_us")
    p = Panel(f"{data['connections']} keep-alive connections against raw_http_server",
              "client CPU µs per request (lower is better)",
              [CLIENT_SHORT.get(c, c) for c in order])
    p.add(None, [(med[c]["cpu_us"], f"{med[c]['cpu_us']:.2f} µs" +
                  ratio_text(med[c]["cpu_us"], wrk, "wrk") + f" · {med[c]['rps']:,.0f} req/s",
                  COLOR.get(c, "#666666")) for c in order])
    p.reference(wrk, "wrk")
    note = (f"bench/http_client.py: client pinned to one core, server to the other; median of "
            f"{data['rounds']} round(s), {data.get('date', '')[:10]}")
    render(os.path.join(out, "client_cpu.svg"), "HTTP client: CPU time per request", note, [p],
           width=900)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "bench/results")
    if not shutil.which("gnuplot"):
        say("gnuplot is not installed (tools/packages.txt: gnuplot-nox): no charts")
        return
    server = load(os.path.join(out, "http.json"))
    client = load(os.path.join(out, "http_client.json"))
    if not server and not client:
        say(f"neither http.json nor http_client.json in {out}: no charts")
        return
    if server:
        server_charts(server, out)
    if client:
        client_chart(client, out)


if __name__ == "__main__":
    main()
