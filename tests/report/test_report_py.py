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
CLAIM = re.compile(r"\*\*`(?P<label>[^`]+)`\*\* buys (?P<train>\S+)(?: \u00b1 (?P<train_band>[0-9.]+)%)? in V3 "
                   r"training(?: \((?P<train_note>[^)]*)\))? and (?P<decode>\S+)(?: \u00b1 (?P<decode_band>[0-9.]+)%)? "
                   r"in decode.*?, costs (?P<cost>.+?) in numerics error.*?, and the model behind it was within "
                   r"(?P<within>.+?) of measured hardware(?: \((?P<unvalidated>[0-9.]+)% of the change rests on "
                   r"unvalidated models\))?\.")
MODEL_PREFIX = "model_s."
SAME_DATUM = 0.005  # a trace op this close to a validation row's measured figure is that row's datum again


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


def write_comparisons_with_models(path):
    """A comparisons.json whose categories name their cost models and role, as `v3sim study` writes them now: the
    totals (compute, gemm) must not count again, comm was fitted on (the deployment's load_cv), other has no model."""
    cat = lambda name, meas, proj, models, role: {  # noqa: E731
        "name": name, "label": name, "measured_ms": meas, "projected_ms": proj, "error": proj / meas - 1,
        "models": models, "role": role}
    doc = {"format": "v3sim-comparisons-1", "comparisons": [
        {"trace": "traces/measured/p.h5", "gpu": "NVIDIA H800", "deployment": "v3-train-profile",
         "hardware": "H800 SXM5", "cluster": "c", "command": "v3sim compare traces/measured/p.h5",
         "measured_layers": 4, "projected_layers": 4, "notes": [],
         "categories": [
             cat("compute", 32.0, 28.0, ["cycle-gemm", "roofline", "streaming", "cycle-cast"], "predicted"),
             cat("gemm", 20.0, 18.0, ["cycle-gemm"], "predicted"),
             cat("gemm_dense", 8.0, 7.6, ["cycle-gemm"], "predicted"),
             cat("gemm_grouped", 12.0, 10.4, ["cycle-gemm"], "predicted"),
             cat("attention", 6.0, 6.6, ["roofline"], "predicted"),
             cat("membound", 6.0, 5.0, ["streaming", "cycle-cast"], "predicted"),
             cat("membound_all", 6.5, 5.0, ["streaming", "cycle-cast"], "predicted"),
             cat("comm", 9.0, 8.8, ["cycle-alltoall", "analytical"], "fitted"),
             {"name": "other", "label": "kernels v3sim has no op for", "measured_ms": 0.5, "projected_ms": 0.0,
              "error": -1.0}]}]}
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f)
    return doc["comparisons"]


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


def read_all(path):
    """(points as {column: list}, {metric: array}) straight from a results.h5."""
    with h5py.File(path, "r") as f:
        pts = {k: [v.decode() if isinstance(v, bytes) else v for v in f["points"][k][()]] for k in f["points"]}
        metrics = {k: np.asarray(f["metrics"][k][()], dtype=float) for k in f["metrics"]}
    return pts, metrics


def point_of(pts, label, phase):
    for i, (lab, grp, ph, st) in enumerate(zip(pts["label"], pts["group"], pts["phase"], pts["status"])):
        if grp == "proposals" and lab == label and ph == phase and st == "ok":
            return i
    return None


def deltas(path, label, phase):
    """{cost model: baseline - proposal seconds of model_s.<model>} of one phase, from the file."""
    pts, metrics = read_all(path)
    i, b = point_of(pts, label, phase), point_of(pts, "baseline", phase)
    if i is None or b is None:
        return None
    return {k[len(MODEL_PREFIX):]: metrics[k][b] - metrics[k][i] for k in metrics if k.startswith(MODEL_PREFIX)}


def read_validation(path):
    """The validation table as a list of row dicts (text decoded); empty when there is none."""
    with h5py.File(path, "r") as f:
        if "validation" not in f.get("tables", {}):
            return []
        g = f["tables"]["validation"]
        cols = {c: [x.decode() if isinstance(x, bytes) else x for x in g[c][()]] for c in g}
    return [dict(zip(cols, r)) for r in zip(*cols.values())]


def out_of_sample_errors(path, traces=None, comparisons=None):
    """{cost model: [out-of-sample |error| %]}, recomputed from the files: validation rows that are predicted or
    fitted with a cross-validated figure; ops of measured H800 traces that are new measurements of a validation
    case with such a figure (an op equal to the row's measured figure is the row again); finest predicted categories
    of comparisons.json that name their models."""
    out = {}
    rows = read_validation(path)
    for r in rows:
        if r.get("role") in ("fitted", "predicted") and math.isfinite(r["error_pct"]):
            out.setdefault(r["model"], []).append(abs(r["error_pct"]))
    by_shape = {tuple(sorted(re.findall(r"([mnk])=(\d+)", r["case"]))): r for r in rows if r["unit"] == "TFLOPS"}
    for root, _, files in os.walk(traces or "/nonexistent"):
        for name in files:
            try:
                f = h5py.File(os.path.join(root, name), "r")
            except OSError:
                continue
            with f:
                meta = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f["meta"].attrs.items()}
                if meta.get("timeline_source") != "measured" or "H800" not in meta.get("gpu", ""):
                    continue
                for op in f["timeline"][()]:
                    r = by_shape.get(tuple(sorted(re.findall(r"([mnk])=(\d+)", op["name"].decode()))))
                    if r is None or r.get("role") not in ("fitted", "predicted") or not math.isfinite(r["projected"]):
                        continue
                    measured = op["flops"] / (op["duration_ps"] * 1e-12) / 1e12
                    if abs(measured / r["measured"] - 1) > SAME_DATUM:
                        out.setdefault(r["model"], []).append(abs(100 * (r["projected"] - measured) / measured))
    for c in comparisons or []:
        for r in c.get("categories", []):
            if r.get("role") == "predicted" and r.get("models") and r["name"] not in ("compute", "gemm", "membound_all") \
                    and r.get("error") is not None:
                for m in r["models"]:
                    out.setdefault(m, []).append(abs(100 * r["error"]))
    return out


def mapes(errors):
    return {m: sum(e) / len(e) for m, e in errors.items() if e}


def cell_pct(cell):
    """"\u00b10.4% (within ...)", "12%", "+3.1%" -> 0.4, 12.0, 3.1; None for a dash or n/a."""
    m = re.match(r"[\u00b1+]?(-?[0-9.]+)%", cell)
    return float(m.group(1)) if m else None


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
        # A class cleanup runs even when a subclass's setUpClass fails after this (tearDownClass would not).
        cls.addClassCleanup(shutil.rmtree, cls.tmp, ignore_errors=True)

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

    def test_numerics_cost_is_recomputed(self):
        with h5py.File(self.h5, "r") as f:
            t = f["tables"]["numerics_error_vs_k"]
            acc = [a.decode() for a in t["accumulator"][()]]
            k, err = t["k"][()], t["mean_rel_error"][()]
        kmax = k.max()
        at = {a: e for a, kk, e in zip(acc, k, err) if kk == kmax}
        fp32 = at["H800 + FP32 accumulation (proposal), tensor core only"]
        base = at["H800 + promotion every 128 (DeepGEMM)"]
        cost = f"{100 * (fp32 / base - 1):+.1f}%"
        claims = {m.group("label"): m for m in CLAIM.finditer(section(self.md, SECTIONS[0]))}
        self.assertEqual(claims["fp32-accumulation"].group("cost"), cost)
        self.assertEqual(claims["all-proposals (combination)"].group("cost"), cost)
        self.assertEqual(claims["comm-coprocessor"].group("cost"), "an unknown amount")

    def test_a_gain_in_one_validated_model_is_within_that_models_out_of_sample_error(self):
        # fp32-accumulation changes only the GEMMs' time (cycle-gemm) in every phase: its margin is cycle-gemm's
        # out-of-sample MAPE (cross-validated DeepGEMM rows and the further H800 measurement; not the fit residuals,
        # not the published trace that repeats the table), and nothing rests on unvalidated models.
        mape = mapes(out_of_sample_errors(self.h5, self.traces))
        for phase in ("train", "prefill", "decode"):
            d = deltas(self.h5, "fp32-accumulation", phase)
            self.assertGreater(d["cycle-gemm"], 0)
            self.assertTrue(all(v == 0 for m, v in d.items() if m != "cycle-gemm"), d)
        claim = {m.group("label"): m for m in CLAIM.finditer(section(self.md, SECTIONS[0]))}["fp32-accumulation"]
        self.assertEqual(claim.group("within"), f"{mape['cycle-gemm']:.1f}%")
        self.assertIsNone(claim.group("unvalidated"))
        fit_only = [abs(r["fit_error_pct"]) for r in read_validation(self.h5) if r["model"] == "cycle-gemm"
                    and math.isfinite(r["fit_error_pct"])]
        self.assertNotEqual(claim.group("within"), f"{sum(fit_only) / len(fit_only):.1f}%")  # not the residuals
        head = self.tables["table-headline"]
        row = [r for r in head if r[0] == "fp32-accumulation"][0]
        col = {h: j for j, h in enumerate(head[0])}
        self.assertEqual(row[col["model within"]], f"{mape['cycle-gemm']:.1f}%")
        for phase in ("train", "prefill", "decode"):
            self.assertEqual(row[col[f"{phase} unvalidated"]], "0%")

    def test_a_gain_in_an_unvalidated_model_rests_entirely_on_it(self):
        # faster-attention changes only attention (roofline), which no datum checks out of sample.
        self.assertNotIn("roofline", out_of_sample_errors(self.h5, self.traces))
        for phase in ("train", "decode"):
            d = deltas(self.h5, "faster-attention", phase)
            self.assertTrue(d["roofline"] > 0 and all(v == 0 for m, v in d.items() if m != "roofline"), d)
        claim = {m.group("label"): m for m in CLAIM.finditer(section(self.md, SECTIONS[0]))}["faster-attention"]
        self.assertEqual(claim.group("within"), "an unknown margin")
        self.assertEqual(claim.group("unvalidated"), "100")
        self.assertIsNone(claim.group("train_band"))  # no band: nothing of it is validated
        head = self.tables["table-headline"]
        row = [r for r in head if r[0] == "faster-attention"][0]
        col = {h: j for j, h in enumerate(head[0])}
        self.assertEqual(row[col["train unvalidated"]], "100%")
        self.assertEqual(row[col["train band"]], "n/a (unvalidated)")

    def test_margin_and_unvalidated_share_of_every_proposal_weight_the_models_by_the_change(self):
        # Across phases each model's |delta| counts as a fraction of the phase's baseline step.
        mape = mapes(out_of_sample_errors(self.h5, self.traces))
        pts, metrics = read_all(self.h5)
        claims = {m.group("label").replace(" (combination)", ""): m
                  for m in CLAIM.finditer(section(self.md, SECTIONS[0]))}
        checked = 0
        for label, claim in claims.items():
            weights = {}
            for phase in ("train", "prefill", "decode"):
                d, b = deltas(self.h5, label, phase), point_of(pts, "baseline", phase)
                if d is None:
                    continue
                for m, v in d.items():
                    weights[m] = weights.get(m, 0.0) + abs(v) / metrics["step_time_s"][b]
            total = sum(weights.values())
            if not total:
                self.assertEqual(claim.group("within"), "an unknown margin")
                continue
            val = sum(w for m, w in weights.items() if m in mape)
            unval = 100 * (total - val) / total
            if val:
                within = sum(w * mape[m] for m, w in weights.items() if m in mape) / val
                self.assertEqual(claim.group("within"), f"{within:.1f}%", label)
            else:
                self.assertEqual(claim.group("within"), "an unknown margin", label)
            if unval > 0:
                self.assertAlmostEqual(float(claim.group("unvalidated")), unval, delta=0.5 if unval >= 10 else 0.05)
            else:
                self.assertIsNone(claim.group("unvalidated"))
            checked += 1
        self.assertGreaterEqual(checked, 7)
        # A combination that changes both validated models and some unvalidated ones.
        comb = claims["all-proposals"]
        self.assertTrue(0 < float(comb.group("unvalidated")) < 100)

    def test_gain_bands_are_recomputed_from_the_metrics(self):
        # band = k x sum over validated models of |delta_m| x MAPE_m / proposal step time, k = max(1, |step change| /
        # sum |delta_m|); flagged when |gain| <= band.
        mape = mapes(out_of_sample_errors(self.h5, self.traces))
        pts, metrics = read_all(self.h5)
        expected = expected_gains(self.h5)
        head = self.tables["table-headline"]
        col = {h: j for j, h in enumerate(head[0])}
        flagged = 0
        for r in head[1:]:
            label = r[0].replace(" (combination)", "")
            for phase in ("train", "prefill", "decode"):
                d, i = deltas(self.h5, label, phase), point_of(pts, label, phase)
                cell = r[col[f"{phase} band"]]
                if d is None:
                    self.assertEqual(cell, "\u2014")
                    continue
                step = metrics["step_time_s"][i]
                base = metrics["step_time_s"][point_of(pts, "baseline", phase)]
                g = 100 * (base / step - 1)
                total = sum(abs(v) for v in d.values())
                unval = sum(abs(v) for m, v in d.items() if m not in mape)
                if total and unval == total:
                    self.assertEqual(cell, "n/a (unvalidated)")
                    continue
                k = max(1.0, abs(base - step) / total) if total else 1.0
                band = 100 * k * sum(abs(v) * mape[m] / 100 for m, v in d.items() if m in mape) / step
                self.assertAlmostEqual(cell_pct(cell), band, delta=0.05 if band >= 0.05 else 0.005, msg=(label, phase))
                within = abs(g) <= band
                self.assertEqual(cell.endswith("(within its band of zero)"), within, (label, phase, g, band))
                flagged += within
                self.assertEqual(r[col[f"{phase} gain"]], expected[(label, phase)])
                self.assertAlmostEqual(cell_pct(r[col[f"{phase} unvalidated"]]), 100 * unval / total,
                                       delta=0.5 if 100 * unval / total >= 10 else 0.05)
        self.assertGreaterEqual(flagged, 1, "the fake study's tma-fp8-cast is a near wash in training")
        # The sentence carries the same bands and the flag.
        claim = {m.group("label"): m for m in CLAIM.finditer(section(self.md, SECTIONS[0]))}["tma-fp8-cast"]
        train = [r for r in head if r[0] == "tma-fp8-cast"][0][col["train band"]]
        self.assertEqual(f"{claim.group('train_band')}%", train.split()[0].lstrip("\u00b1"))
        self.assertEqual(claim.group("train_note"), "within its band of zero")
        self.assertIn("within its band of zero", section(self.md, SECTIONS[0]))  # the rule is stated

    def test_attribution_table_shares(self):
        rows = self.tables["table-attribution"]
        header = rows[0]
        models = header[3:-3]
        for r in rows[1:]:
            label = r[0].replace(" (combination)", "")
            d = deltas(self.h5, label, r[1])
            total = sum(abs(v) for v in d.values())
            for j, m in enumerate(models):
                want = 100 * abs(d[m]) / total
                self.assertAlmostEqual(cell_pct(r[3 + j]), want, delta=0.5 if want >= 10 else 0.05, msg=(r[0], r[1], m))

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
        rows = read_validation(self.h5)
        summary = self.tables["table-validation-summary"]
        # Out-of-sample suites only: the DeepEP normal rows were fitted on and have no cross-validated figure.
        self.assertEqual([r[0] for r in summary[1:]], ["deepgemm_h800_dense", "deepep_h800_low_latency",
                                                        "trace traces/h800/fp8-gemm.h5"])
        traces = {r[0]: r for r in self.tables["table-traces"][1:]}
        self.assertIn("traces/h200/fp8-gemm.h5", traces)
        self.assertEqual(traces["traces/h200/fp8-gemm.h5"][1], "measured")
        self.assertIn("unreadable", traces["traces/not-a-trace.h5"][-1])
        # Each measured GEMM against the out-of-sample projection of its case, with the error recomputed here.
        proj = {r["case"]: r["projected"] for r in rows}
        measured = {r["case"]: r["measured"] for r in rows}
        got = self.tables["table-trace-vs-projected"]
        by_trace = {}
        for r in got[1:]:
            by_trace.setdefault(r[0], []).append(r)
        for name, chip, counted in (("h200/fp8-gemm.h5", "no", "no: another chip"),
                                    ("published/deepgemm-h800.h5", "yes", "no: the validation datum"),
                                    ("h800/fp8-gemm.h5", "yes", "yes")):
            with h5py.File(os.path.join(self.traces, name), "r") as f:
                ops = f["timeline"][()]
            mine = by_trace["traces/" + name]
            self.assertEqual(len(mine), len(ops))
            for op, r in zip(ops, mine):
                m, n, k = (int(x) for x in re.findall(r"=(\d+)", op["name"].decode()))
                tflops = op["flops"] / (op["duration_ps"] * 1e-12) / 1e12
                case = f"m={m} n={n} k={k}"
                self.assertEqual(r[2], case)
                self.assertEqual(r[5], f"{100 * (proj[case] - tflops) / tflops:+.1f}%")
                self.assertEqual(r[6], chip)
                self.assertTrue(r[7].startswith(counted), r[7])
                if name.startswith("published"):  # the table's own figures again
                    self.assertLess(abs(tflops / measured[case] - 1), SAME_DATUM)

    def test_each_datum_once_in_validation(self):
        rows = read_validation(self.h5)
        oos = self.tables["table-validation"]
        res = self.tables["table-fit-residuals"]
        keys = [(r[0], r[1]) for r in oos[1:]]
        self.assertEqual(len(keys), len(set(keys)), "a datum twice among the out-of-sample figures")
        rkeys = [(r[0], r[1]) for r in res[1:]]
        self.assertEqual(len(rkeys), len(set(rkeys)), "a datum twice among the fit residuals")
        # Out of sample: the predicted rows, the fitted rows with a cross-validated figure, the further H800
        # measurement; never the published trace (the same data as the table).
        want = {(r["suite"], r["case"]) for r in rows if r["role"] in ("fitted", "predicted")
                and math.isfinite(r["error_pct"])}
        self.assertEqual({k for k in keys if not k[0].startswith("trace ")}, want)
        self.assertFalse([k for k in keys if "published" in k[0]])
        self.assertEqual(len([k for k in keys if k[0] == "trace traces/h800/fp8-gemm.h5"]), 3)
        for r in oos[1:]:
            row = [x for x in rows if (x["suite"], x["case"]) == (r[0], r[1])]
            if row:
                self.assertEqual(r[7], f"{row[0]['error_pct']:+.1f}%")
                self.assertEqual(r[3], "cross-validated" if row[0]["role"] == "fitted" else "predicted")
        # Fit residuals: each fitted row once, with its in-sample error, apart from the out-of-sample figures.
        fitted = {(r["suite"], r["case"]): r for r in rows if r["role"] == "fitted"}
        self.assertEqual(set(rkeys), set(fitted))
        for r in res[1:]:
            self.assertEqual(r[7], f"{fitted[(r[0], r[1])]['fit_error_pct']:+.1f}%")
        # Per cost model: n and MAPE of the out-of-sample data, recomputed; unvalidated where there is none.
        errors = out_of_sample_errors(self.h5, self.traces)
        trust = {r[0]: r for r in self.tables["table-model-trust"][1:]}
        for m, r in trust.items():
            e = errors.get(m, [])
            self.assertEqual(r[2], str(len(e)), m)
            if e:
                self.assertEqual(r[3], f"{sum(e) / len(e):.1f}%")
                self.assertEqual(r[5], "validated out of sample")
            else:
                self.assertIn(r[5], ("unvalidated", "prices no time in this study"))
        self.assertEqual(trust["roofline"][5], "unvalidated")
        self.assertEqual(trust["cycle-gemm"][2], "6")  # 3 cross-validated rows + 3 further H800 measurements
        self.assertIn("leave-one-out", section(self.md, SECTIONS[6]))  # how the out-of-sample figures were made


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
        # No validation at all: every change rests on unvalidated models, and no gain has a band.
        for m in claims:
            if m.group("label") != "larger-nvlink-domain":
                self.assertEqual(m.group("unvalidated"), "100", m.group(0))
                self.assertIsNone(m.group("train_band"))
        self.assertIn("No out-of-sample figure", section(self.md, SECTIONS[6]))
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
        # No usable validation table: no model is validated, the whole change rests on unvalidated models.
        self.assertEqual(claims["tma-fp8-cast"].group("within"), "an unknown margin")
        self.assertEqual(claims["tma-fp8-cast"].group("unvalidated"), "100")


class Comparisons(ReportCase):
    """Section 8 from comparisons.json: next to results.h5 by default, or --comparisons; a foreign file is exit 2."""

    def minimal_study(self, name, write):
        """A minimal fake study in its own folder with write(path) making comparisons.json next to it; returns the
        report's (run, out, md, page) and (the results file, what write returned)."""
        folder = os.path.join(self.tmp, name)
        os.makedirs(folder, exist_ok=True)
        h5 = os.path.join(folder, "results.h5")
        r = run([PYTHON, MAKE_FAKE, h5, "--minimal"])
        self.assertEqual(r.returncode, 0, r.stderr)
        written = write(os.path.join(folder, "comparisons.json"))
        return self.produce(h5, name + "-out"), (h5, written)

    def test_rendered_from_the_file_next_to_results(self):
        (r, out, md, page), _ = self.minimal_study("cmp", write_comparisons)
        self.assert_ran(r)
        sec = section(md, SECTIONS[7])
        self.assertIn("traces/measured/p.h5 against v3-train-profile", sec)
        self.assertRegex(sec, r"\| compute \| all compute-stream kernels \| 32\.00 \| 28\.00 \| -12\.5% \|")
        self.assertRegex(sec, r"\| other \| .* \| 0\.00 \| 0\.00 \| \u2014 \|")
        self.assertIn("could not be compared: bad.h5: not HDF5", sec)

    def test_categories_count_for_their_models_once(self):
        (r, out, md, page), (h5, comparisons) = self.minimal_study("cmp-models", write_comparisons_with_models)
        self.assert_ran(r)
        tables = Tables(page).tables
        errors = out_of_sample_errors(h5, comparisons=comparisons)
        trust = {row[0]: row for row in tables["table-model-trust"][1:]}
        # Finest predicted categories only: gemm_dense and gemm_grouped for cycle-gemm (not the gemm or compute
        # totals), attention for roofline, membound for both streaming and cycle-cast; comm was fitted on.
        self.assertEqual(trust["cycle-gemm"][2], "2")
        self.assertEqual(trust["roofline"][2], "1")
        self.assertEqual(trust["streaming"][2], "1")
        self.assertEqual(trust["cycle-alltoall"][2], "0")
        self.assertEqual(trust["cycle-alltoall"][5], "unvalidated")
        for m, e in errors.items():
            self.assertEqual(trust[m][3], f"{sum(e) / len(e):.1f}%")
        oos = [(row[0], row[1]) for row in tables["table-validation"][1:]]
        self.assertEqual(sorted(c for _, c in oos), ["attention", "gemm_dense", "gemm_grouped", "membound"])
        self.assertEqual([row[1] for row in tables["table-fit-residuals"][1:]], ["comm"])
        # A proposal's margin now rests on these: the headline's margin of an attention-only change is roofline's.
        claims = {m.group("label"): m for m in CLAIM.finditer(section(md, SECTIONS[0]))}
        self.assertEqual(claims["faster-attention"].group("within"), f"{sum(errors['roofline']):.1f}%")
        self.assertIsNone(claims["faster-attention"].group("unvalidated"))

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


class OldStyle(ReportCase):
    """A results.h5 of an older v3sim: a validation table without model, role or in-sample columns, and no
    model_s.<cost model> metrics. Accepted; nothing counts as out of sample, and the report says so."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.h5 = cls.make("old.h5", "--old-style")
        cls.r, cls.out, cls.md, cls.html = cls.produce(cls.h5, "old-out")
        cls.tables = Tables(cls.html).tables if cls.html else {}

    def test_accepted_with_every_row_of_unknown_role(self):
        self.assert_ran(self.r)
        self.assert_sections(self.md, self.html)
        val = section(self.md, SECTIONS[6])
        self.assertIn("no `role` column", val)
        self.assertIn("No out-of-sample figure", val)
        self.assertNotIn("table-validation", self.tables)
        rows = read_validation(self.h5)
        self.assertNotIn("role", rows[0])
        res = self.tables["table-fit-residuals"]
        self.assertEqual(len(res) - 1, len(rows))
        for got, want in zip(res[1:], rows):
            self.assertEqual((got[0], got[1], got[3]), (want["suite"], want["case"], "unknown"))
            self.assertEqual(got[7], f"{want['error_pct']:+.1f}%")

    def test_margins_unknown_without_model_metrics(self):
        summary = section(self.md, SECTIONS[0])
        claims = list(CLAIM.finditer(summary))
        self.assertTrue(claims)
        for m in claims:
            self.assertEqual(m.group("within"), "an unknown margin")
            self.assertIsNone(m.group("unvalidated"))
            self.assertIsNone(m.group("train_band"))
        self.assertEqual(summary.count("Model margin unknown for every proposal"), 1)
        self.assertIn("`model_s.<cost model>`", summary)
        self.assertIn("**Missing:**", section(self.md, SECTIONS[1]))  # the attribution table says how to get it


class UnfilledModelMetrics(ReportCase):
    """model_s.<cost model> datasets that hold no value (a registry that declares them, a step that does not fill
    them) count as absent: margins unknown, said once, not a per-proposal "no phase" note."""

    def test_nan_model_metrics_are_absent(self):
        h5 = self.make("unfilled.h5", "--minimal")
        with h5py.File(h5, "r+") as f:
            names = [k for k in f["metrics"] if k.startswith(MODEL_PREFIX)]
            self.assertTrue(names)
            for k in names:
                f["metrics"][k][...] = np.nan
        r, out, md, page = self.produce(h5, "unfilled-out")
        self.assert_ran(r)
        summary = section(md, SECTIONS[0])
        claims = list(CLAIM.finditer(summary))
        self.assertTrue(claims)
        for m in claims:
            self.assertEqual(m.group("within"), "an unknown margin")
            self.assertIsNone(m.group("unvalidated"))
        self.assertEqual(summary.count("Model margin unknown for every proposal"), 1)
        self.assertIn("no values of the `model_s.<cost model>` metrics", summary)


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
        # The fake evaluator's model_s metrics and validation roles: every proposal and phase has a gain, a band
        # and an unvalidated share; the fitted row is out of sample by its cross-validated figure only.
        head = tables["table-headline"]
        col = {h: j for j, h in enumerate(head[0])}
        phases = sorted({ph for _, ph in expected_gains(results)})
        for r in head[1:]:
            for ph in phases:
                self.assertIn(f"{ph} band", col)
                if r[col[f"{ph} gain"]] != "\u2014":
                    self.assertRegex(r[col[f"{ph} band"]], r"^(\u00b1[0-9.]+%|n/a \(unvalidated\))")
                    self.assertRegex(r[col[f"{ph} unvalidated"]], r"^[0-9.]+%$")
        rows = read_validation(results)
        self.assertEqual(sorted(r["role"] for r in rows), ["fitted", "predicted"])
        errors = out_of_sample_errors(results)
        trust = {r[0]: r for r in tables["table-model-trust"][1:]}
        for m in ("cycle-gemm", "cycle-alltoall"):
            self.assertEqual(trust[m][3], f"{errors[m][0]:.1f}%")
        fitted = [r for r in rows if r["role"] == "fitted"][0]
        self.assertEqual([r[7] for r in tables["table-fit-residuals"][1:]], [f"{fitted['fit_error_pct']:+.1f}%"])


if __name__ == "__main__":
    ap = argparse.ArgumentParser(add_help=False)
    ap.add_argument("--v3sim")
    known, rest = ap.parse_known_args()
    V3SIM = os.path.abspath(known.v3sim) if known.v3sim else None
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)
