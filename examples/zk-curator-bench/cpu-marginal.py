#!/usr/bin/env python3
"""Marginal client CPU per operation, comparable across harnesses that do not report it.

Runs each harness at two op counts and takes the CPU time (user + system) of the whole child
process from getrusage(RUSAGE_CHILDREN): JVM or interpreter start-up, connection and the
warm-up (N/10 ops and at least 3 s, so about the same in both runs) cancel out in the
difference, which is divided by the difference in ops. One JSON line per harness on stdout.

    CONNECT=127.0.0.1:2181 examples/zk-curator-bench/cpu-marginal.py \
        get-sync 20000 60000 2 "zk-curator=target/release/examples/zk-curator-bench" \
        "curator=bench/anchors/java/run.sh" \
        "zookeeper=bench/anchors/peers/target/release/anchor-peers --client zookeeper"
"""
import os, resource, subprocess, sys, json, statistics
w, n1, n2, reps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
connect = os.environ.get("CONNECT", "127.0.0.1:21811")
def run(cmd, n):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(cmd.split() + ["--connect", connect, "--workload", w, "--ops", str(n)],
                         capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    line = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else "{}"
    return cpu, json.loads(line)
for spec in sys.argv[5:]:
    label, cmd = spec.split("=", 1)
    vals = []
    for _ in range(reps):
        c1, _ = run(cmd, n1)
        c2, j = run(cmd, n2)
        vals.append((c2 - c1) / (n2 - n1) * 1e6)
    print(json.dumps({"harness": label, "workload": w, "marginal_cpu_us_per_op": round(statistics.median(vals), 1),
                      "runs": [round(v, 1) for v in vals]}), flush=True)
