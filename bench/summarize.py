#!/usr/bin/env python3
"""Markdown tables from the JSON lines of bench/run.sh (or of any harness run by hand).

usage: bench/summarize.py RESULTS.jsonl [MORE.jsonl ...]

Prints, for every workload and harness that has lines:
  1. median ops/s (events/s, nodes/s, acquisitions/s, 1 / mean hand-over: see bench/README.md);
  2. details: runs, median secs, the spread of ops/s over the runs ((max - min) / median),
     p50 / p99, and the checks that must be 0 on a healthy run (lost, out_of_order,
     violations, double_leaders), summed over the runs rather than a median so that a single
     bad run shows; RSS growth for cache-load;
  3. when zk-curator ran: its median ops/s over each anchor's, per workload.
Each figure is a median over the runs that produced it, taken on its own. A harness that
cannot do a workload shows "n/a" with its reason below the table; failed runs are counted.
"""

import json
import statistics
import sys

ORDER = [
    "get-sync", "get-threads", "get-pipelined", "create-delete", "watch-fanout",
    "persistent-recursive", "cache-load", "lock-uncontended", "lock-contended", "leader-failover",
]
CHECKS = ["lost", "out_of_order", "violations", "double_leaders"]
OURS = "zk-curator"
FLOORS = {"raw-socket", "raw-hop"}


def harness(rec):
    return rec.get("harness") or rec.get("client", "?")


def check_value(rec, key):
    v = rec.get(key, rec.get("extra", {}).get(key))
    return v if isinstance(v, (int, float)) else None


def number(v, digits=0):
    if v is None:
        return "–"
    return "{:,.{d}f}".format(v, d=digits)


def median(values):
    values = [v for v in values if isinstance(v, (int, float))]
    return statistics.median(values) if values else None


def load(paths):
    meta, rows = [], []
    for path in paths:
        with open(path) as f:
            for raw in f:
                raw = raw.strip()
                if not raw:
                    continue
                try:
                    rec = json.loads(raw)
                except ValueError:
                    continue
                if isinstance(rec, dict) and "run" in rec and "workload" not in rec:
                    meta.append(rec["run"])
                elif isinstance(rec, dict) and "workload" in rec:
                    rows.append(rec)
    return meta, rows


def table(head, body):
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for row in body:
        print("| " + " | ".join(row) + " |")
    print()


def main(paths):
    meta, rows = load(paths)
    for m in meta:
        print("Run: " + ", ".join("{}={}".format(k, v) for k, v in m.items()))
        print()
    harnesses = []
    for r in rows:
        if harness(r) not in harnesses:
            harnesses.append(harness(r))
    workloads = [w for w in ORDER if any(r["workload"] == w for r in rows)]
    workloads += sorted({r["workload"] for r in rows} - set(ORDER))

    notes, cell, detail, medians = {}, {}, [], {}  # notes: reason -> its number and cells

    def note(reason, where):
        entry = notes.setdefault(reason, [len(notes) + 1, {}])
        entry[1].setdefault(where[0], []).append(where[1])
        return entry[0]

    for w in workloads:
        for h in harnesses:
            runs = [r for r in rows if r["workload"] == w and harness(r) == h]
            if not runs:
                continue
            unsupported = next((r["unsupported"] for r in runs if "unsupported" in r), None)
            if unsupported is not None:
                cell[(w, h)] = "n/a ({})".format(note(unsupported, (h, w)))
                continue
            ok = [r for r in runs if "error" not in r and isinstance(r.get("ops_per_sec"), (int, float))]
            failed = len(runs) - len(ok)
            if not ok:
                why = "every run failed, first: {}".format(runs[0].get("error", "?"))
                cell[(w, h)] = "failed ({})".format(note(why, (h, w)))
                continue
            rates = [r["ops_per_sec"] for r in ok]
            med = statistics.median(rates)
            medians[(w, h)] = med
            cell[(w, h)] = number(med) + (" ({} failed)".format(failed) if failed else "")
            spread = (max(rates) - min(rates)) / med * 100 if med else None
            checks = []
            for key in CHECKS:
                vals = [check_value(r, key) for r in ok]
                vals = [v for v in vals if v is not None]
                checks.append(number(sum(vals)) if vals else "–")
            growth = median([r.get("extra", {}).get("rss_kb", 0) - r.get("extra", {}).get("rss_before_kb", 0)
                             for r in ok if "rss_kb" in r.get("extra", {})])
            detail.append([
                w, h, str(len(ok)) + (" +{} failed".format(failed) if failed else ""),
                number(median([r.get("ops") for r in ok])),
                number(median([r.get("secs") for r in ok]), 3),
                number(med),
                "{:.0f} %".format(spread) if spread is not None and len(ok) > 1 else "–",
                number(median([r.get("p50_us") for r in ok]), 1),
                number(median([r.get("p99_us") for r in ok]), 1),
            ] + checks + [number(growth / 1024.0, 1) if growth is not None else "–"])

    print("Median ops/s (events/s for the watch workloads, nodes/s for cache-load, acquisitions/s for "
          "lock-contended, 1 / mean hand-over for leader-failover):")
    print()
    table(["workload"] + harnesses, [[w] + [cell.get((w, h), "–") for h in harnesses] for w in workloads])
    if notes:
        for reason, (i, where) in notes.items():
            cells = "; ".join("{} ({})".format(h, ", ".join(ws)) for h, ws in where.items())
            print("{}. {}: {}".format(i, cells, reason))
        print()

    print("Details (medians over the runs; the checks are sums and must be 0):")
    print()
    table(["workload", "harness", "runs", "ops", "secs", "ops/s", "spread", "p50 µs", "p99 µs"]
          + CHECKS + ["RSS growth MiB"], detail)

    anchors = [h for h in harnesses if h != OURS and h not in FLOORS]
    if OURS in harnesses and anchors:
        print("zk-curator's median ops/s over each anchor's (above 1: zk-curator is faster):")
        print()
        body = []
        for w in workloads:
            ours = medians.get((w, OURS))
            ratios = [number(ours / medians[(w, a)], 2) + "x" if ours and medians.get((w, a)) else "–"
                      for a in anchors]
            best = max((medians[(w, a)] for a in anchors if medians.get((w, a))), default=None)
            body.append([w] + ratios + [number(ours / best, 2) + "x" if ours and best else "–"])
        table(["workload"] + anchors + ["best anchor"], body)

    bad = [d for d in detail if any(c not in ("–", "0") for c in d[9:13])]
    if bad:
        print("NOT HEALTHY: a check is not 0 in: " + ", ".join("{} / {}".format(d[0], d[1]) for d in bad))
    else:
        print("Every check (lost, out_of_order, violations, double_leaders) is 0 where it applies.")
    return 1 if bad else 0


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1:]))
