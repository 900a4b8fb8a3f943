#!/usr/bin/python3
"""Tests of scripts/report.py, the chip-proposal report of a study (CTest: report_py).

    /usr/bin/python3 tests/report/test_report_py.py [--v3sim BUILD/v3sim] [unittest options]

Builds fake studies with tests/report/make_fake_study.py (a full one with every table and two sweeps, a minimal one
with points and metrics only, one with a broken table), runs report.py on each as a user would (a subprocess), and
checks the outputs against numbers the test recomputes from the HDF5 files itself (not with report.py's code).
With --v3sim it also runs `v3sim study --evaluator fake` (a deterministic stand-in evaluator) and reports on its
results.h5; that case is skipped, with the reason, when the binary is absent or the study command fails.
Runtime: about 10 s on one core (most of it matplotlib drawing the full report's figures).
"""
import argparse
import json
import html.parser
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
REPORT = os.path.join(ROOT, "scripts", "report.py")
MAKE_FAKE = os.path.join(HERE, "make_fake_study.py")
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
V3SIM = None  # set by --v3sim

SECTIONS = ("1. Summary", "2. Per-proposal gain for each phase", "3. Step-time breakdowns", "4. Sensitivity curves",
            "5. FP8 accumulation error against K", "6. Roofline of the V3 kernels",
            "7. Validation: projected against measured", "8. Against measured traces")
SUBSECTIONS = ("Provenance", "Failed points", "Measured traces")
CLAIM = re.compile(r"\*\*`(?P<label>[^`]+)`\*\* buys (?P<train>.+?) in V3 training(?: \([^)]*\))? and (?P<decode>.+?) "
                   r"in decode.*?, costs (?P<cost>.+?) in numerics error.*?, and the model behind it was within "
                   r"(?P<within>.+?) of measured hardware\.")


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, timeout=300, **kw)


def write_comparisons(path):
    """A hand-made comparisons.json (format v3sim-comparisons-1): one trace compared, one that failed."""
    doc = {"format": "v3sim-comparisons-1", "comparisons": [
        {"trace": "traces/measured/p.h5", "gpu": "NVIDIA H800", "deployment": "v3-train-profile",
         "hardware": "H800 SXM5", "cluster": "c", "command": "v3sim compare traces/measured/p.h5",
         "measured_layers": 4, "projected_layers": 4, "notes": [],
         "categories": [
             {"name": "compute", "label": "all compute-stream kernels", "measured_ms": 32.0, "projected_ms": 28.0,
              "error": -0.125},
             {"name": "other", "label": "kernels v3sim has no op for", "measured_ms": 0.0, "projected_ms": 0.0,
              "error": None}]},
        {"trace": "traces/measured/bad.h5", "error": "bad.h5: not HDF5"}]}
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f)


def report(results, out, traces=None):
    args = [PYTHON, REPORT, results, "-o", out] + (["--traces", traces] if traces else [])
    return run(args)


class Tables(html.parser.HTMLParser):
    """Every <table id=...> of a page as a list of rows of cell texts (header row first); h2/h3 texts in order."""

    def __init__(self, page):
        super().__init__()
        self.tables, self.headings = {}, []
        self._table = self._row = self._cell = self._heading = None
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self._table = self.tables.setdefault(a.get("id", f"anon-{len(self.tables)}"), [])
        elif tag == "tr" and self._table is not None:
            self._row = []
            self._table.append(self._row)
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag in ("h2", "h3"):
            self._heading = []

    def handle_endtag(self, tag):
        if tag == "table":
            self._table = None
        elif tag in ("td", "th") and self._cell is not None:
            self._row.append("".join(self._cell))
            self._cell = None
        elif tag in ("h2", "h3") and self._heading is not None:
            self.headings.append("".join(self._heading))
            self._heading = None

    def handle_data(self, data):
        for buf in (self._cell, self._heading):
            if buf is not None:
                buf.append(data)


def section(md, title):
    """The Markdown text of section `title` (up to the next level-2 heading)."""
    start = md.index(f"## {title}\n")
    nxt = md.find("\n## ", start + 1)
    return md[start:] if nxt < 0 else md[start:nxt]


def read_points(path):
    """(points as {column: list}, step_time_s) straight from a results.h5."""
    with h5py.File(path, "r") as f:
        pts = {k: [v.decode() if isinstance(v, bytes) else v for v in f["points"][k][()]] for k in f["points"]}
        step = np.asarray(f["metrics"]["step_time_s"][()], dtype=float)
    return pts, step


def expected_gains(path):
    """{(label, phase): "+x.x%" or None} recomputed from the file: baseline step / proposal step - 1."""
    pts, step = read_points(path)
    idx = {}
    for i, (lab, grp, ph, st) in enumerate(zip(pts["label"], pts["group"], pts["phase"], pts["status"])):
        if grp == "proposals":
            idx[(lab, ph)] = i if st == "ok" else None
    out = {}
    for (lab, ph), i in idx.items():
        if lab == "baseline":
            continue
        b = idx.get(("baseline", ph))
        if i is None or b is None or not (math.isfinite(step[i]) and math.isfinite(step[b])):
            out[(lab, ph)] = None
        else:
            out[(lab, ph)] = f"{100.0 * (step[b] / step[i] - 1.0):+.1f}%"
    return out


def registry_file(folder):
    """v3sim's metric registry and table schemas (`v3sim describe metrics --json`, `v3sim describe tables --json`) in
    one file, for make_fake_study.py --registry: the fake studies carry the attributes and columns a real results.h5
    has. SkipTest without a v3sim binary."""
    binary = V3SIM or os.path.join(ROOT, "build", "release", "v3sim")
    if not os.path.exists(binary):
        raise unittest.SkipTest(f"no v3sim binary for its metric registry ({binary}; pass --v3sim)")
    registry = {}
    for what in ("metrics", "tables"):
        r = run([binary, "describe", what, "--json"])
        assert r.returncode == 0, r.stderr
        registry.update(json.loads(r.stdout))
    path = os.path.join(folder, "registry.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(registry, f)
    return path


class ReportCase(unittest.TestCase):
    """Shared helpers: a temporary folder per class, outputs read once."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="v3sim-report-test-")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def make(cls, name, *flags, registry=None):
        path = os.path.join(cls.tmp, name)
        r = run([PYTHON, MAKE_FAKE, path, *flags, "--registry", registry or registry_file(cls.tmp)])
        assert r.returncode == 0, r.stderr
        return path

    @classmethod
    def produce(cls, results, name, traces=None):
        out = os.path.join(cls.tmp, name)
        r = report(results, out, traces)
        md = html_ = ""
        if os.path.exists(os.path.join(out, "report.md")):
            with open(os.path.join(out, "report.md"), encoding="utf-8") as f:
                md = f.read()
            with open(os.path.join(out, "report.html"), encoding="utf-8") as f:
                html_ = f.read()
        return r, out, md, html_

    def assert_ran(self, r):
        self.assertEqual(r.returncode, 0, f"report.py failed:\n{r.stdout}\n{r.stderr}")
        self.assertNotIn("Traceback", r.stderr)

    def assert_sections(self, md, page):
        headings = Tables(page).headings
        for title in SECTIONS:
            self.assertIn(f"\n## {title}\n", md, f"Markdown lacks section '{title}'")
            self.assertIn(title, headings, f"HTML lacks section '{title}'")
        for title in SUBSECTIONS:
            self.assertIn(f"\n### {title}\n", md)
            self.assertIn(title, headings)
        # In the order of the contract.
        self.assertEqual([h for h in headings if h in SECTIONS], list(SECTIONS))

    def assert_self_contained(self, out, page):
        self.assertNotRegex(page, r"(?i)<script", "the HTML has a script")
        self.assertNotRegex(page, r"(?i)<link\b", "the HTML links a resource")
        self.assertNotRegex(page, r"(?i)<img\b", "figures must be inline SVG, not <img>")
        self.assertNotRegex(page, r"(?i)<iframe|<object|<embed|@import", "the HTML embeds a resource")
        self.assertNotRegex(page, r"(?i)\b(src|href|xlink:href)\s*=\s*[\"']?\s*(https?:)?//",
                            "the HTML refers to a resource elsewhere")
        self.assertNotRegex(page, r"(?i)url\(\s*[\"']?(https?:)?//", "the CSS fetches something")
        for m in re.finditer(r"(?i)\b(?:src|href)\s*=\s*\"([^\"]*)\"", page):
            self.assertTrue(m.group(1).startswith("#"), f"a non-local reference: {m.group(0)}")
        figures = re.findall(r"<figure[^>]*data-figure=\"([^\"]+)\"[^>]*>(.*?)</figure>", page, re.S)
        self.assertTrue(figures, "no figure in the HTML")
        for name, body in figures:
            self.assertIn("<svg", body, f"figure {name} is not inline SVG")
            for ext in ("png", "svg"):
                f = os.path.join(out, "figures", f"{name}.{ext}")
                self.assertTrue(os.path.getsize(f) > 1000, f"{f} missing or empty")
        # Inline SVG ids are prefixed per figure, so that they cannot collide.
        ids = re.findall(r"\bid=\"([^\"]+)\"", page)
        self.assertEqual(len(ids), len(set(ids)), "duplicate ids in the HTML")


class FullStudy(ReportCase):
    """Every table, two sweeps, a failed point, and measured traces."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.traces = os.path.join(cls.tmp, "traces")
        cls.h5 = cls.make("full.h5", "--traces", cls.traces)
        cls.r, cls.out, cls.md, cls.html = cls.produce(cls.h5, "out", cls.traces)
        cls.tables = Tables(cls.html).tables if cls.html else {}

    def test_runs_and_writes_both_files(self):
        self.assert_ran(self.r)
        for f in ("report.md", "report.html"):
            self.assertTrue(os.path.getsize(os.path.join(self.out, f)) > 1000, f)
        self.assertIn("wrote", self.r.stdout)

    def test_html_is_self_contained(self):
        self.assert_self_contained(self.out, self.html)
        for fig in ("proposal-gain", "step-breakdown", "sweep-ib-bandwidth", "sweep-nvlink-domain",
                    "numerics-error-vs-k", "roofline", "validation"):
            self.assertIn(f'data-figure="{fig}"', self.html)
            self.assertIn(f"](figures/{fig}.png)", self.md, "the Markdown links each figure's PNG")

    def test_every_section_is_there(self):
        self.assert_sections(self.md, self.html)
        self.assertNotIn("**Missing:**", section(self.md, SECTIONS[4]))
        self.assertNotIn("**Missing:**", section(self.md, SECTIONS[5]))

    def test_gain_table_matches_the_metrics(self):
        expected = expected_gains(self.h5)
        rows = self.tables["table-gain"]
        self.assertEqual(rows[0][:5], ["proposal", "phase", "baseline step (s)", "step (s)", "gain"])
        seen = {}
        for r in rows[1:]:
            label = r[0].replace(" (combination)", "")
            seen[(label, r[1])] = r[4]
            # The Markdown table holds the same cells.
            self.assertIn("| " + " | ".join(r) + " |", self.md)
        for key, want in expected.items():
            self.assertIn(key, seen, f"no gain row for {key}")
            self.assertEqual(seen[key], want or "\u2014", f"gain of {key}")
        self.assertEqual(seen[("all-proposals", "decode")], expected[("all-proposals", "decode")])

    def test_summary_leads_with_one_claim_per_proposal(self):
        summary = section(self.md, SECTIONS[0])
        first = summary.split("\n\n")[1]
        self.assertTrue(first.startswith("- **`"), "the summary does not open with the claims")
        claims = {m.group("label"): m for m in CLAIM.finditer(summary)}
        expected = expected_gains(self.h5)
        labels = sorted({lab for lab, _ in expected})
        self.assertEqual(sorted(lab.replace(" (combination)", "") for lab in claims), labels)
        for lab, m in claims.items():
            lab = lab.replace(" (combination)", "")
            for phase in ("train", "decode"):
                want = expected.get((lab, phase))
                got = m.group(phase)
                self.assertEqual(got if want else got.startswith("n/a"), want or True, f"{lab} {phase}: {got}")
        # The same numbers in the headline table.
        head = self.tables["table-headline"]
        col = {h: j for j, h in enumerate(head[0])}
        for r in head[1:]:
            lab = r[0].replace(" (combination)", "")
            self.assertEqual(r[col["train gain"]], expected.get((lab, "train")) or "\u2014")
            self.assertEqual(r[col["decode gain"]], expected.get((lab, "decode")) or "\u2014")

    def test_numerics_cost_and_model_margin_are_recomputed(self):
        with h5py.File(self.h5, "r") as f:
            t = f["tables"]["numerics_error_vs_k"]
            acc = [a.decode() for a in t["accumulator"][()]]
            k, err = t["k"][()], t["mean_rel_error"][()]
            v = f["tables"]["validation"]
            suites = [s.decode() for s in v["suite"][()]]
            errs = v["error_pct"][()]
        kmax = k.max()
        at = {a: e for a, kk, e in zip(acc, k, err) if kk == kmax}
        fp32 = at["H800 + FP32 accumulation (proposal), tensor core only"]
        base = at["H800 + promotion every 128 (DeepGEMM)"]
        cost = f"{100 * (fp32 / base - 1):+.1f}%"
        gemm_worst = f"{max(abs(e) for s, e in zip(suites, errs) if 'gemm' in s):.1f}%"
        net_worst = f"{max(abs(e) for s, e in zip(suites, errs) if 'deepep' in s):.1f}%"
        all_worst = f"{max(abs(e) for e in errs):.1f}%"
        claims = {m.group("label"): m for m in CLAIM.finditer(section(self.md, SECTIONS[0]))}
        self.assertEqual(claims["fp32-accumulation"].group("cost"), cost)
        self.assertEqual(claims["fp32-accumulation"].group("within"), gemm_worst)  # an SM proposal: the GEMM model
        self.assertEqual(claims["unified-network"].group("within"), net_worst)  # a network one: the network model
        self.assertEqual(claims["all-proposals (combination)"].group("within"), all_worst)  # both
        self.assertEqual(claims["all-proposals (combination)"].group("cost"), cost)
        self.assertEqual(claims["comm-coprocessor"].group("cost"), "an unknown amount")

    def test_memory_against_capacity(self):
        # Recomputed from the file: totals per proposal point, and which exceed the capacity.
        gib = 1024.0 ** 3
        with h5py.File(self.h5, "r") as f:
            pts = f["points"]
            labels = [x.decode() for x in pts["label"][()]]
            groups = [x.decode() for x in pts["group"][()]]
            phases = [x.decode() for x in pts["phase"][()]]
            status = [x.decode() for x in pts["status"][()]]
            values = [x.decode() for x in pts["value"][()]]
            m = f["metrics"]
            parts = [np.nan_to_num(m[f"memory_per_gpu_bytes.{k}"][()]) for k in
                     ("weights", "gradients", "optimizer", "activations", "kv_cache")]
            capacity = m["memory_capacity_bytes"][()]
        total = sum(parts)
        over = {(lab, ph) for lab, g, ph, st, t, c in zip(labels, groups, phases, status, total, capacity)
                if g == "proposals" and st == "ok" and t > c}
        self.assertTrue(over and all(ph == "train" for _, ph in over), "the fake study's training does not fit")
        rows = {r[0]: r for r in self.tables["table-memory-train"]}
        header = self.tables["table-memory-train"][0]
        base = header.index("baseline")
        self.assertAlmostEqual(float(rows["total"][base]), 94e9 / gib, places=1)
        self.assertEqual(rows["fits"][base], "no")
        self.assertEqual({r[0]: r for r in self.tables["table-memory-decode"]}["fits"][base], "yes")
        summary = section(self.md, SECTIONS[0])
        self.assertIn(f"**Memory.** {len(over)} proposal points ({len(over)} in train) need more memory", summary)
        for lab, _ in over:
            self.assertIn(f"`{lab}` (train): ", section(self.md, SECTIONS[2]))
        # The figure of peak against capacity, and the capacity sweep: infeasible points keep their metrics (the
        # peak memory column shows them) and say so.
        self.assertIn("figures/memory-capacity.png", section(self.md, SECTIONS[2]))
        self.assertTrue(os.path.exists(os.path.join(self.out, "figures", "memory-capacity.png")))
        sweep = self.tables["table-sweep-hbm-capacity"]
        with h5py.File(self.h5, "r") as f:  # the registry's label, bytes shown in GiB
            label = f["metrics"]["memory_per_gpu_bytes.total"].attrs["label"].replace("(bytes", "(GiB")
        peak_col = sweep[0].index(label)
        by_value = {r[0]: r for r in sweep[1:]}
        sweep_points = [(v, st, t, c) for v, g, st, t, c in
                        zip(values, groups, status, total, capacity) if g == "hbm-capacity"]
        self.assertEqual(len(by_value), len(sweep_points))
        for v, st, t, c in sweep_points:
            row = by_value[v]
            self.assertAlmostEqual(float(row[peak_col]), t / gib, places=2)
            self.assertEqual(row[-1], "infeasible (see Failed points)" if t > c else "ok")
            self.assertEqual(st.startswith("infeasible"), t > c)
        self.assertIn("infeasible", [st.split(":")[0] for st in status])

    def test_breakdown_sweeps_numerics_roofline(self):
        self.assertIn("table-breakdown-train", self.tables)
        rows = {r[0]: r for r in self.tables["table-breakdown-decode"]}
        self.assertIn("exposed comm", rows)
        self.assertIn("bubble", rows)
        self.assertIn("all_to_all_combine (comm stream)", rows)
        sweep = self.tables["table-sweep-ib-bandwidth"]
        self.assertEqual([r[0] for r in sweep[1:]], ["12.5GB/s", "25GB/s", "50GB/s", "100GB/s", "200GB/s", "400GB/s"])
        failed = [r for r in self.tables["table-sweep-nvlink-domain"] if r[0] == "144"]
        self.assertTrue(failed and failed[0][-1].startswith("error:"))
        num = self.tables["table-numerics-mean-rel-error"]
        self.assertEqual(num[0][0], "K")
        self.assertEqual(len(num), 1 + 7)
        self.assertIn("table-kernels-train", self.tables)
        self.assertIn("H800 roof", self.html)

    def test_validation_and_traces(self):
        summary = self.tables["table-validation-summary"]
        self.assertEqual([r[0] for r in summary[1:]], ["deepgemm_h800_dense", "deepep_h800_normal"])
        traces = {r[0]: r for r in self.tables["table-traces"][1:]}
        self.assertIn("traces/h200/fp8-gemm.h5", traces)
        self.assertEqual(traces["traces/h200/fp8-gemm.h5"][1], "measured")
        self.assertIn("unreadable", traces["traces/not-a-trace.h5"][-1])
        # Each measured GEMM against its projection, with the error recomputed here.
        with h5py.File(os.path.join(self.traces, "h200", "fp8-gemm.h5"), "r") as f:
            ops = f["timeline"][()]
        with h5py.File(self.h5, "r") as f:
            v = f["tables"]["validation"]
            proj = {c.decode(): p for c, p in zip(v["case"][()], v["projected"][()])}
        rows = self.tables["table-trace-vs-projected"]
        self.assertEqual(len(rows) - 1, len(ops))
        for op, r in zip(ops, rows[1:]):
            m, n, k = (int(x) for x in re.findall(r"=(\d+)", op["name"].decode()))
            measured = op["flops"] / (op["duration_ps"] * 1e-12) / 1e12
            case = f"m={m} n={n} k={k}"
            self.assertEqual(r[2], case)
            self.assertEqual(r[5], f"{100 * (proj[case] - measured) / measured:+.1f}%")
            self.assertEqual(r[6], "no")  # an H200 trace against an H800 projection


class MinimalStudy(ReportCase):
    """Points and metrics only: every section is still there, and says what is missing and how to produce it."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.h5 = cls.make("minimal.h5", "--minimal")
        cls.r, cls.out, cls.md, cls.html = cls.produce(cls.h5, "out")

    def test_runs(self):
        self.assert_ran(self.r)
        self.assert_sections(self.md, self.html)
        self.assert_self_contained(self.out, self.html)

    def test_missing_tables_say_how_to_produce_them(self):
        for title, table in ((SECTIONS[4], "numerics_error_vs_k"), (SECTIONS[5], "kernels"),
                             (SECTIONS[6], "validation")):
            text = section(self.md, title)
            self.assertIn("**Missing:**", text)
            self.assertIn(f"/tables/{table}", text)
            self.assertIn("How to produce it", text)
            self.assertIn("v3sim study", text)
        self.assertIn("**Missing:**", section(self.md, SECTIONS[3]))  # no sweep
        self.assertIn("no measured traces given", section(self.md, SECTIONS[6]))
        self.assertEqual(self.html.count('class="note"'), self.md.count("**Missing:**"))

    def test_claims_still_lead_with_unknowns_said_once(self):
        summary = section(self.md, SECTIONS[0])
        claims = list(CLAIM.finditer(summary))
        self.assertEqual(len(claims), len({lab for lab, _ in expected_gains(self.h5)}))
        self.assertTrue(all(m.group("cost") == "an unknown amount" for m in claims))
        self.assertTrue(all(m.group("within") == "an unknown margin" for m in claims))
        self.assertEqual(summary.count("Numerics error unknown for every proposal"), 1)
        failed = [m for m in claims if m.group("label") == "larger-nvlink-domain"][0]
        self.assertEqual(failed.group("train"), "n/a")
        self.assertIn("the train point failed", failed.group(0))


class BrokenInputs(ReportCase):
    """A foreign, corrupt or missing results file is exit 2 with one clear line; a broken table is a note."""

    def error_of(self, path):
        r = report(path, os.path.join(self.tmp, "never"))
        self.assertEqual(r.returncode, 2, f"{path}: exit {r.returncode}\n{r.stderr}")
        self.assertNotIn("Traceback", r.stderr)
        self.assertTrue(r.stderr.startswith("error: "), r.stderr)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        return r.stderr

    def test_missing_file(self):
        self.assertIn("no such file", self.error_of(os.path.join(self.tmp, "nothing.h5")))

    def test_not_hdf5(self):
        path = os.path.join(self.tmp, "text.h5")
        with open(path, "w") as f:
            f.write("not an HDF5 file\n")
        self.assertIn("not HDF5", self.error_of(path))

    def test_truncated_hdf5(self):
        good = self.make("whole.h5", "--minimal")
        path = os.path.join(self.tmp, "truncated.h5")
        with open(good, "rb") as f, open(path, "wb") as g:
            g.write(f.read(4096))
        self.assertIn("corrupt or truncated", self.error_of(path))

    def test_foreign_hdf5(self):
        path = os.path.join(self.tmp, "foreign.h5")
        with h5py.File(path, "w") as f:
            f.create_dataset("x", data=np.arange(3))
        self.assertIn("expected format 'v3sim-study-1'", self.error_of(path))

    def test_a_trace_is_not_a_study(self):
        folder = os.path.join(self.tmp, "tr")
        self.make("ignored.h5", "--minimal", "--traces", folder)
        self.assertIn("not a v3sim study result", self.error_of(os.path.join(folder, "projected-gemm.h5")))

    def test_points_of_different_lengths(self):
        path = self.make("short.h5", "--minimal")
        with h5py.File(path, "r+") as f:
            status = f["points"]["status"][()][:-1]
            del f["points"]["status"]
            f["points"].create_dataset("status", data=status)
        self.assertIn("/points/status has", self.error_of(path))

    def test_broken_table_is_a_note_not_a_crash(self):
        path = self.make("broken.h5")
        with h5py.File(path, "r+") as f:
            g = f["tables"]["kernels"]
            flops = g["flops"][()][:-2]
            del g["flops"]
            g.create_dataset("flops", data=flops)
            del f["tables"]["validation"]["projected"]
            f["tables"]["validation"].attrs["columns"] = "suite,case,measured,unit,error_pct,source"
            # A per-point numerics metric takes precedence over numerics_error_vs_k in the summary.
            labels = [v.decode() for v in f["points"]["label"][()]]
            rel = np.array([2.0e-5 if lab in ("fp32-accumulation", "all-proposals") else 5.0e-5 for lab in labels])
            f["metrics"].create_dataset("numerics_rel_error", data=rel)
        empty = os.path.join(self.tmp, "no-traces")
        os.makedirs(empty, exist_ok=True)
        r, out, md, page = self.produce(path, "out-broken", empty)
        self.assert_ran(r)
        self.assert_sections(md, page)
        roof = section(md, SECTIONS[5])
        self.assertIn("**Missing:**", roof)
        self.assertIn("columns of different lengths", roof)
        val = section(md, SECTIONS[6])
        self.assertIn("lacks what this section needs", val)
        self.assertIn("holds no .h5 files", val)
        claims = {m.group("label"): m for m in CLAIM.finditer(section(md, SECTIONS[0]))}
        self.assertEqual(claims["fp32-accumulation"].group("cost"), f"{100 * (2.0e-5 / 5.0e-5 - 1):+.1f}%")
        self.assertEqual(claims["tma-fp8-cast"].group("cost"), "+0.0%")
        self.assertEqual(claims["tma-fp8-cast"].group("within"), "an unknown margin")  # no usable validation


class Comparisons(ReportCase):
    """Section 8 from comparisons.json: next to results.h5 by default, or --comparisons; a foreign file is exit 2."""

    def test_rendered_from_the_file_next_to_results(self):
        folder = os.path.join(self.tmp, "cmp")
        os.makedirs(folder, exist_ok=True)
        h5 = os.path.join(folder, "results.h5")
        r = run([PYTHON, MAKE_FAKE, h5, "--minimal"])
        self.assertEqual(r.returncode, 0, r.stderr)
        write_comparisons(os.path.join(folder, "comparisons.json"))
        r, out, md, page = self.produce(h5, "cmp-out")
        self.assert_ran(r)
        sec = section(md, SECTIONS[7])
        self.assertIn("traces/measured/p.h5 against v3-train-profile", sec)
        self.assertRegex(sec, r"\| compute \| all compute-stream kernels \| 32\.00 \| 28\.00 \| -12\.5% \|")
        self.assertRegex(sec, r"\| other \| .* \| 0\.00 \| 0\.00 \| \u2014 \|")
        self.assertIn("could not be compared: bad.h5: not HDF5", sec)

    def test_missing_and_foreign(self):
        h5 = self.make("nocmp.h5", "--minimal")
        r, out, md, page = self.produce(h5, "nocmp-out")
        self.assert_ran(r)
        self.assertIn("**Missing:**", section(md, SECTIONS[7]))
        bad = os.path.join(self.tmp, "foreign.json")
        with open(bad, "w", encoding="utf-8") as f:
            json.dump({"format": "other"}, f)
        r = run([PYTHON, REPORT, h5, "-o", os.path.join(self.tmp, "x"), "--comparisons", bad])
        self.assertEqual(r.returncode, 2)
        self.assertIn("not a v3sim comparisons file", r.stderr)


class AddedMetric(ReportCase):
    """A metric added to v3sim's registry reaches the report with no change to report.py: here one added to the
    registry file the fake study is written with, as a new entry of sim/exec/metrics.h would be."""

    def test_a_registry_metric_appears_in_the_sweep_tables(self):
        path = registry_file(self.tmp)
        with open(path, encoding="utf-8") as f:
            registry = json.load(f)
        registry["metrics"]["widgets_per_s"] = {
            "unit": "1/s", "label": "widgets per second", "description": "a metric only this test knows",
            "sweep": "2", "sweep_phases": "decode", "phases": ["decode"]}
        added = os.path.join(self.tmp, "added-metrics.json")
        with open(added, "w", encoding="utf-8") as f:
            json.dump(registry, f)
        h5 = self.make("added.h5", registry=added)
        r, out, md, page = self.produce(h5, "added-out")
        self.assert_ran(r)
        with h5py.File(h5, "r") as f:
            values = [x.decode() for x in f["points"]["value"][()]]
            groups = [x.decode() for x in f["points"]["group"][()]]
            status = [x.decode() for x in f["points"]["status"][()]]
            widgets = f["metrics"]["widgets_per_s"][()]
        table = Tables(page).tables["table-sweep-ib-bandwidth"]
        col = table[0].index("widgets per second")  # the registry's label, in the registry's order (after TPOT)
        self.assertLess(table[0].index(registry["metrics"]["tpot_ms"]["label"]), col)
        rows = {row[0]: row for row in table[1:]}
        for v, g, st, w in zip(values, groups, status, widgets):
            if g == "ib-bandwidth" and st == "ok":
                self.assertAlmostEqual(float(rows[v][col].replace(",", "")), w, places=2)
        # Not drawn for the phases the registry does not name.
        self.assertNotIn("widgets per second", Tables(page).tables["table-sweep-hbm-capacity"][0])


@unittest.skipUnless(os.environ.get("V3SIM_REPORT_REAL_STUDY", "1") == "1", "V3SIM_REPORT_REAL_STUDY=0")
class RealStudy(ReportCase):
    """report.py on what `v3sim study --evaluator fake` writes (the study engine with a stand-in evaluator)."""

    def test_report_of_a_fake_evaluator_study(self):
        if not V3SIM or not os.path.exists(V3SIM):
            self.skipTest(f"no v3sim binary ({V3SIM or 'pass --v3sim'})")
        out = os.path.join(self.tmp, "study")
        env = dict(os.environ, V3SIM_CONFIGS=os.environ.get("V3SIM_CONFIGS", os.path.join(ROOT, "configs")))
        r = run([V3SIM, "study", "--evaluator", "fake", "-j", "1", "-o", out], env=env, cwd=self.tmp)
        results = os.path.join(out, "results.h5")
        self.assertEqual(r.returncode, 0, f"`v3sim study --evaluator fake` failed: {r.stderr.strip()[-2000:]}")
        self.assertTrue(os.path.exists(results))
        # `v3sim study` writes the report itself (DESIGN.md: "writes results + report").
        for name in ("report.html", "report.md"):
            self.assertTrue(os.path.getsize(os.path.join(out, name)) > 0, name)
        rr, rout, md, page = self.produce(results, "study-report")
        self.assert_ran(rr)
        self.assert_sections(md, page)
        self.assert_self_contained(rout, page)
        tables = Tables(page).tables
        seen = {(r[0].replace(" (combination)", ""), r[1]): r[4] for r in tables["table-gain"][1:]}
        for key, want in expected_gains(results).items():
            self.assertEqual(seen.get(key), want or "\u2014", f"gain of {key}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(add_help=False)
    ap.add_argument("--v3sim")
    known, rest = ap.parse_known_args()
    V3SIM = os.path.abspath(known.v3sim) if known.v3sim else None
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)
