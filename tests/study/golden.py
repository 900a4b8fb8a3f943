#!/usr/bin/env python3
"""The default study's results, metric by metric, against a golden copy: a refactoring that must not change what
v3sim computes (issue 15) is checked by running the study and comparing every point and every metric exactly.

    golden.py RESULTS.h5 GOLDEN.json            compare; exit 1 listing every difference
    golden.py RESULTS.h5 GOLDEN.json --write    (re)write the golden copy from RESULTS.h5, after a change that is
                                                meant to move figures (say which in the commit message)
    golden.py --run V3SIM GOLDEN.json           run `V3SIM study -o TMP --no-report` (the shipped default study)
                                                and compare its results.h5

Values are compared bit for bit (NaN equal to NaN): the same code on the same machine gives the same doubles; the
golden copy stores them as hexadecimal floats so nothing is lost in JSON.
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile

import h5py


def strings(ds):
    return [x.decode() if isinstance(x, bytes) else str(x) for x in ds[()]]


def read(path):
    """{points: [[label, group, phase, value, status], ...], metrics: {name: [hex float, ...]}}"""
    with h5py.File(path, "r") as f:
        p = f["points"]
        cols = [strings(p[c]) for c in ("label", "group", "phase", "value", "status")]
        points = [list(r) for r in zip(*cols)]
        metrics = {name: [float(v).hex() for v in f["metrics"][name][()]] for name in f["metrics"]}
    return {"points": points, "metrics": metrics}


def differences(got, want):
    out = []
    if got["points"] != want["points"]:
        n = max(len(got["points"]), len(want["points"]))
        for i in range(n):
            a = got["points"][i] if i < len(got["points"]) else None
            b = want["points"][i] if i < len(want["points"]) else None
            if a != b:
                out.append(f"point {i}: {a} (golden {b})")
    for name in sorted(set(got["metrics"]) | set(want["metrics"])):
        if name not in got["metrics"]:
            out.append(f"metric {name}: missing (golden has it)")
            continue
        if name not in want["metrics"]:
            out.append(f"metric {name}: new (not in the golden copy)")
            continue
        for i, (a, b) in enumerate(zip(got["metrics"][name], want["metrics"][name])):
            fa, fb = float.fromhex(a), float.fromhex(b)
            if a != b and not (math.isnan(fa) and math.isnan(fb)):
                label = got["points"][i][0] if i < len(got["points"]) else i
                out.append(f"metric {name}, point {i} ({label}): {fa!r} (golden {fb!r})")
        if len(got["metrics"][name]) != len(want["metrics"][name]):
            out.append(f"metric {name}: {len(got['metrics'][name])} values (golden {len(want['metrics'][name])})")
    return out


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", nargs="?", help="a study's results.h5")
    ap.add_argument("golden", help="the golden copy (JSON)")
    ap.add_argument("--write", action="store_true", help="write the golden copy from RESULTS.h5")
    ap.add_argument("--run", metavar="V3SIM", help="run the default study with this binary first")
    a = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="v3sim-golden-") as tmp:
        results = a.results
        if a.run:
            out = os.path.join(tmp, "study")
            r = subprocess.run([a.run, "study", "-o", out, "--no-report"], stdout=subprocess.DEVNULL)
            if r.returncode != 0:
                print(f"golden.py: `{a.run} study` exited {r.returncode}", file=sys.stderr)
                return 1
            results = os.path.join(out, "results.h5")
        if not results:
            ap.error("give RESULTS.h5 or --run V3SIM")
        got = read(results)
        if a.write:
            with open(a.golden, "w", encoding="utf-8") as f:
                json.dump(got, f, indent=0, sort_keys=True)
                f.write("\n")
            print(f"wrote {a.golden}: {len(got['points'])} points, {len(got['metrics'])} metrics")
            return 0
        with open(a.golden, encoding="utf-8") as f:
            want = json.load(f)
        diff = differences(got, want)
        if diff:
            print(f"{results} differs from {a.golden} in {len(diff)} places:", file=sys.stderr)
            for d in diff[:200]:
                print("  " + d, file=sys.stderr)
            return 1
        print(f"{results}: {len(got['points'])} points and {len(got['metrics'])} metrics identical to {a.golden}")
        return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
