#!/usr/bin/env python3
"""Bar charts (SVG) of benchmark runs, from the JSON lines of bench/run.sh and the other
runners (the same lines bench/summarize.py reads). Python 3 standard library only.

usage:
  bench/charts.py                          # every chart of docs/performance.md, from docs/perf/
  bench/charts.py RUN.jsonl [MORE.jsonl ...] -o OUT.svg [--title TEXT]
                  [--metric KEY] [--lower-is-better] [--unit TEXT]

One group of horizontal bars per workload, one bar per harness, each bar the median of the
metric over that harness's successful runs (ops_per_sec by default: ops/s, events/s, nodes/s,
acquisitions/s, 1 / mean hand-over, as bench/README.md defines them). Bars are scaled within
their workload (workloads differ by orders of magnitude), the value is written beside each
bar, and each group's heading gives zk-curator's median over the best anchor's. A harness
that cannot run a workload shows "n/a", one whose runs all failed "failed".

After a benchmark run, chart it with the second form, or add it to CHARTS below and rerun
the first form to regenerate every chart the docs show.
"""

import argparse
import json
import os
import statistics
import sys
from xml.sax.saxutils import escape

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PERF = os.path.join(ROOT, "docs", "perf")
IMG = os.path.join(ROOT, "docs", "img")

# (inputs under docs/perf, output under docs/img, title, metric, lower is better, unit)
CHARTS = [
    (["real-zk-3.8-2026-11-25-run2.jsonl"], "perf-real-zk-3.8.svg",
     "Against ZooKeeper 3.8, 2026-11-25 (medians of 3 runs; 2 cores shared with the server)",
     "ops_per_sec", False, "ops/s"),
    (["bench-run-2026-12-06.jsonl"], "perf-bench-run-2026-12-06.svg",
     "bench/run.sh from the repository, 2026-12-06 (load average 10-17: not a reference)",
     "ops_per_sec", False, "ops/s"),
    (["zk-pinned-2026-11-25.jsonl"], "perf-zk-pinned.svg",
     "ZooKeeper 3.8 pinned to a core of its own, 2026-11-25 (medians of 3)",
     "ops_per_sec", False, "ops/s"),
    (["testing-server-2026-11-25-run2.jsonl"], "perf-testing-server.svg",
     "Against the in-process TestingServer, 2026-11-25 (medians of 3)",
     "ops_per_sec", False, "ops/s"),
    (["cpu-marginal-2026-11-25-run2.jsonl"], "perf-cpu.svg",
     "Client CPU per operation, marginal method, 2026-11-25 (shorter is cheaper)",
     "marginal_cpu_us_per_op", True, "µs/op"),
    (["locks-2026-12-06-run1.jsonl"], "perf-locks.svg",
     "Locks against ZooKeeper 3.8, 2026-12-06 run 1 (medians of 3)",
     "ops_per_sec", False, "ops/s"),
    (["counter-2026-12-06.jsonl"], "perf-counter.svg",
     "Shared counters against ZooKeeper 3.8, 2026-12-06 (medians of 5)",
     "ops_per_sec", False, "increments/s"),
    (["queue-throughput-2026-12-06.jsonl"], "perf-queue.svg",
     "DistributedQueue against ZooKeeper 3.8, 2026-12-06 (medians of 3)",
     "ops_per_sec", False, "items/s"),
    (["leader-failover-2026-12-06-run3.jsonl"], "perf-leader.svg",
     "Leader hand-over p50 against ZooKeeper 3.8, 2026-12-06 run 3 (medians of 5)",
     "p50_us", True, "µs"),
]

ORDER = [
    "get-sync", "get-threads", "get-pipelined", "create-delete", "watch-fanout",
    "persistent-recursive", "cache-load", "lock-uncontended", "lock-contended", "leader-failover",
]
# Anchors first, as in the tables of docs/performance.md, then zk-curator, then the floors.
HARNESSES = ["curator", "zookeeper", "zookeeper-client", "kazoo", "zk-curator", "raw-socket",
             "raw", "raw-hop"]
OURS = "zk-curator"
FLOORS = {"raw-socket", "raw", "raw-hop"}
COLORS = {
    "curator": "#4e79a7", "zookeeper": "#59a14f", "zookeeper-client": "#b07aa1",
    "kazoo": "#9c755f", "zk-curator": "#e15759", "raw-socket": "#a0a0a0", "raw": "#a0a0a0",
    "raw-hop": "#c8b400",
}
OTHER_COLORS = ["#76b7b2", "#edc948", "#ff9da7", "#bab0ac", "#86bcb6", "#f28e2b"]

WIDTH, LEFT, BAR_MAX, BAR_H, GAP, HEAD = 900, 190, 560, 15, 3, 26


def harness(rec):
    h = rec.get("harness") or rec.get("client", "?")
    # Lines written without a harness field carry the client's versioned name.
    return OURS if h.startswith(OURS + "-") else h


def load(paths):
    rows = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for raw in f:
                raw = raw.strip()
                if not raw:
                    continue
                try:
                    rec = json.loads(raw)
                except ValueError:
                    continue
                if isinstance(rec, dict) and "workload" in rec:
                    rows.append(rec)
    return rows


def cells(rows, metric):
    """{workload: {harness: (median or None, label, client name)}} in display order."""
    workloads = [w for w in ORDER if any(r["workload"] == w for r in rows)]
    workloads += sorted({r["workload"] for r in rows} - set(ORDER))
    seen = []
    for r in rows:
        if harness(r) not in seen:
            seen.append(harness(r))
    order = [h for h in HARNESSES if h in seen] + [h for h in seen if h not in HARNESSES]
    out = {}
    for w in workloads:
        group = {}
        for h in order:
            runs = [r for r in rows if r["workload"] == w and harness(r) == h]
            if not runs:
                continue
            name = runs[0].get("client") or h
            if h == OURS:
                name = OURS
            if any("unsupported" in r for r in runs):
                if h not in FLOORS:  # the floors run two workloads: no row for the rest
                    group[h] = (None, "n/a", name)
                continue
            values = [r[metric] for r in runs
                      if "error" not in r and isinstance(r.get(metric), (int, float))]
            if not values:
                group[h] = (None, "failed", name)
                continue
            group[h] = (statistics.median(values), None, name)
        if group:
            out[w] = group
    return out


def fmt(v):
    if v >= 100:
        return "{:,.0f}".format(v)
    if v >= 10:
        return "{:.1f}".format(v)
    return "{:.2f}".format(v)


def ratio_note(group, lower_better):
    ours = group.get(OURS, (None,))[0]
    anchors = [(v[0], v[2]) for h, v in group.items()
               if h != OURS and h not in FLOORS and not h.startswith("ref-") and v[0]]
    if not ours or not anchors:
        return ""
    if lower_better:
        best, name = min(anchors)
        return "zk-curator: {:.2f}x the cheapest anchor ({})".format(ours / best, name)
    best, name = max(anchors)
    return "zk-curator: {:.2f}x the best anchor ({})".format(ours / best, name)


def svg(data, title, unit, lower_better, sources):
    y = 50
    parts = []
    color_of, spare = {}, iter(OTHER_COLORS * 4)
    for w, group in data.items():
        parts.append('<text x="20" y="{}" font-weight="bold">{}</text>'.format(y + 16, escape(w)))
        note = ratio_note(group, lower_better)
        if note:
            parts.append('<text x="{}" y="{}" text-anchor="end" fill="#444">{}</text>'.format(
                WIDTH - 20, y + 16, escape(note)))
        y += HEAD
        top = max((v[0] for v in group.values() if v[0]), default=0)
        for h, (value, label, name) in group.items():
            if h not in color_of:
                color_of[h] = COLORS.get(h) or next(spare)
            ours = h == OURS
            weight = ' font-weight="bold"' if ours else ""
            parts.append('<text x="{}" y="{}" text-anchor="end"{}>{}</text>'.format(
                LEFT - 8, y + BAR_H - 3, weight, escape(name)))
            if value is None or not top:
                parts.append('<text x="{}" y="{}" fill="#888">{}</text>'.format(
                    LEFT + 4, y + BAR_H - 3, escape(label or "–")))
            else:
                length = max(1.0, value / top * BAR_MAX)
                parts.append('<rect x="{}" y="{}" width="{:.1f}" height="{}" fill="{}"/>'.format(
                    LEFT, y, length, BAR_H, color_of[h]))
                parts.append('<text x="{:.1f}" y="{}"{}>{}</text>'.format(
                    LEFT + length + 6, y + BAR_H - 3, weight, escape(fmt(value))))
            y += BAR_H + GAP
        y += 12
    height = y + 30
    axis = "{} per harness, {} is better; bars scaled within each workload".format(
        unit, "shorter" if lower_better else "longer")
    head = [
        '<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
        'font-family="Helvetica, Arial, sans-serif" font-size="13">'.format(w=WIDTH, h=height),
        "<title>{}</title>".format(escape(title)),
        '<rect x="0" y="0" width="{}" height="{}" fill="#ffffff"/>'.format(WIDTH, height),
        '<text x="20" y="24" font-size="15" font-weight="bold">{}</text>'.format(escape(title)),
        '<text x="20" y="42" fill="#555" font-size="12">{}</text>'.format(escape(axis)),
    ]
    foot = '<text x="20" y="{}" fill="#777" font-size="11">{}</text>'.format(
        height - 12, escape("from " + ", ".join(sources) + " by bench/charts.py"))
    return "\n".join(head + parts + [foot, "</svg>"]) + "\n"


def chart(inputs, out, title, metric, lower_better, unit):
    rows = load(inputs)
    data = cells(rows, metric)
    if not data:
        raise SystemExit("{}: no lines with workload and {}".format(", ".join(inputs), metric))
    sources = [os.path.relpath(p, ROOT) if os.path.isabs(p) else p for p in inputs]
    with open(out, "w", encoding="utf-8") as f:
        f.write(svg(data, title, unit, lower_better, sources))
    print("wrote {} ({} workloads)".format(os.path.relpath(out), len(data)))


def main(argv):
    if not argv:
        for inputs, out, title, metric, lower, unit in CHARTS:
            chart([os.path.join(PERF, i) for i in inputs], os.path.join(IMG, out), title, metric,
                  lower, unit)
        return 0
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("inputs", nargs="+", help="JSON lines files")
    p.add_argument("-o", "--output", required=True, help="the SVG to write")
    p.add_argument("--title", default=None)
    p.add_argument("--metric", default="ops_per_sec")
    p.add_argument("--lower-is-better", action="store_true")
    p.add_argument("--unit", default="ops/s")
    a = p.parse_args(argv)
    chart(a.inputs, a.output, a.title or ", ".join(os.path.basename(i) for i in a.inputs),
          a.metric, a.lower_is_better, a.unit)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
