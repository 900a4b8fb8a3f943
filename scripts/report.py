#!/usr/bin/python3
"""The chip-proposal report of a v3sim study.

    scripts/report.py RESULTS_H5 -o DIR [--traces TRACES_DIR] [--comparisons COMPARISONS_JSON]

Reads a study's results.h5 (format v3sim-study-1: /points, /metrics, /tables, written by `v3sim study`) and any
measured traces (v3sim result files, format v3sim-result-1, found under TRACES_DIR), and writes

    DIR/report.md      the report as Markdown (figures linked from figures/)
    DIR/report.html    the same report as one self-contained file (inline CSS, inline SVG figures, no scripts,
                       nothing fetched from anywhere)
    DIR/figures/       every figure as SVG and PNG

Sections: 1 summary and provenance, 2 per-proposal gain per phase (with its band and the cost models it rests on),
3 step-time breakdowns and memory per GPU against capacity, 4 sensitivity curves of each sweep, 5 FP8 accumulation
error against K, 6 roofline of the V3 kernels, 7 validation (per cost model; out-of-sample figures, then the fit
residuals apart; measured traces), 8 against measured traces (each measured profile against the step projection of
the deployment it was measured on, per category of kernels: comparisons.json, format v3sim-comparisons-1, which
`v3sim study` writes next to results.h5; --comparisons names another). A section whose data is missing says what is
missing and how to produce it. The Markdown and HTML are rendered from one document model, so their tables hold the
same text.

The summary opens with one sentence per proposal, every number computed from the data:
"`X` buys A% ± a% in V3 training and B% ± b% in decode, costs C in numerics error, and the model behind it was
within D% of measured hardware (U% of the change rests on unvalidated models)."
A, B: baseline step time / proposal step time - 1 (metric step_time_s).
C: the change of the FP8 GEMM error against the baseline's accumulation, at the largest K of numerics_error_vs_k
(accumulator_of() says how a proposal is linked to an accumulator), or from a per-point metric numerics_rel_error
when a study has one.
D, U, a, b: from the cost models themselves, no word matching. Each op's time is priced by one cost model
(sim/exec/op_cost.h CostModel), and the metrics model_s.<model> hold each model's time per GPU. A proposal changes
model m's time by delta_m = model_s.m(baseline) - model_s.m(proposal), in each phase. Every measured datum has one
role (validation table columns `model`, `role`, `fit_projected`, `fit_error_pct`; comparisons.json categories'
`models` and `role`): fitted (it informed m's constants) or predicted. A model's out-of-sample error MAPE_m is the
mean |error| of its predicted data and of its fitted data's cross-validated projections (each datum once: a
measured trace that repeats a validation row is not counted again, nor a comparisons.json total of finer
categories); a model with none is unvalidated. D is MAPE_m weighted by |delta_m| over the validated models (across
phases, |delta_m| as a fraction of the phase's baseline step); U the share of sum |delta_m| priced by unvalidated
models; the band a = sum over validated m of |delta_m| x MAPE_m / the proposal's step time (first order: op times off
by their model's typical out-of-sample error move the gain by that much); a gain no larger than its band is flagged
"within its band of zero". Fit residuals never enter D or a band. A study without model_s metrics, or with a
validation table that has no `role` column (an older v3sim), is reported with these unknown, and says so.

Needs Debian's python3-h5py, python3-matplotlib and python3-numpy (scripts/setup.sh installs them).
Exit status: 0 written, 2 bad input (missing, corrupt or foreign results file; one line on stderr), 3 a bug of ours.
Tested by tests/report/test_report_py.py (CTest report_py).
"""
import argparse
import html
import io
import json
import math
import os
import re
import sys
import traceback
from dataclasses import dataclass, field

try:
    import h5py
    import matplotlib
    import numpy as np

    matplotlib.use("Agg")
except ImportError as exc:  # pragma: no cover - depends on the machine
    sys.stderr.write(f"error: report.py needs python3-h5py, python3-matplotlib and python3-numpy ({exc}); "
                     f"run scripts/setup.sh, then /usr/bin/python3 {sys.argv[0]} (running under {sys.executable})\n")
    sys.exit(2)

plt = None  # matplotlib.pyplot, imported by build()
STUDY_FORMAT = "v3sim-study-1"
TRACE_FORMAT = "v3sim-result-1"
PHASES = ("train", "prefill", "decode")
PHASE_COLORS = {"train": "#4c72b0", "prefill": "#dd8452", "decode": "#55a868"}
DASH = "\u2014"
STUDY_HINT = "`v3sim study configs/studies/deepseek-v3-proposals.yaml -o out/deepseek-v3-proposals`"
GIB = 1024.0 ** 3
# What a metric is (its label, unit, which sensitivity curves draw it, which stream an op kind runs on) comes from the
# attributes of its /metrics dataset, which v3sim writes from its metric registry (sim/exec/metrics.h): a metric
# added there reaches this report without a change here.


class ReportError(Exception):
    """A user's mistake: a missing or foreign input file."""


# ---------------------------------------------------------------------------------------------------------------
# Formatting


def finite(x):
    try:
        return x is not None and math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def num(x, sig=3):
    """A number with `sig` significant digits and thousands separators; an em dash for NaN or nothing."""
    if not finite(x):
        return DASH
    x = float(x)
    if x == 0:
        return "0"
    a = abs(x)
    if 1e-3 <= a < 1e7:
        decimals = max(0, sig - 1 - int(math.floor(math.log10(a))))
        return f"{x:,.{decimals}f}"
    return f"{x:.{sig - 1}e}"


def sci(x):
    """Small errors in one style down a column: 2.32e-05."""
    return f"{float(x):.2e}" if finite(x) else DASH


def error_label(col):
    """mean_rel_error -> "mean relative error"."""
    return col.replace("_", " ").replace("rel ", "relative ")


def pct(x):
    return f"{float(x):+.1f}%" if finite(x) else DASH


def text(x):
    if isinstance(x, bytes):
        return x.decode("utf-8", "replace")
    return str(x)


def time_unit(seconds):
    """(scale, unit) for showing times of this magnitude: s, ms or us."""
    top = max([abs(s) for s in seconds if finite(s)] or [0])
    if top >= 1:
        return 1.0, "s"
    if top >= 1e-3:
        return 1e3, "ms"
    return 1e6, "\u00b5s"


# ---------------------------------------------------------------------------------------------------------------
# Reading


@dataclass
class Table:
    name: str
    title: str
    source: str
    columns: list
    data: dict
    units: dict
    attrs: dict
    error: str = ""  # why the table cannot be used (columns of different lengths ...); empty when it can

    def rows(self):
        return len(self.data[self.columns[0]]) if self.columns else 0

    def has(self, *names):
        return all(n in self.data for n in names)

    def pick(self, *names):
        """The first of `names` that is a column, or None."""
        return next((n for n in names if n in self.data), None)

    def numeric(self, name):
        return name in self.data and not isinstance(self.data[name], list)


@dataclass
class Study:
    path: str
    attrs: dict
    points: dict  # column -> list
    metrics: dict  # name -> np.ndarray
    tables: dict  # name -> Table
    metric_attrs: dict = field(default_factory=dict)  # name -> {attribute: text} (unit, label, sweep, stream, ...)

    def n(self):
        return len(self.points["label"])

    def metric(self, name, i):
        col = self.metrics.get(name)
        return float(col[i]) if col is not None else float("nan")

    def ok(self, i):
        return self.points["status"][i] == "ok"

    def attr(self, name, key, default=""):
        return str(self.metric_attrs.get(name, {}).get(key, default))

    def scale(self, name):
        """The factor a metric is shown with: bytes in GiB."""
        return 1.0 / GIB if self.attr(name, "unit") == "bytes" else 1.0

    def label(self, name):
        """A metric's label (the registry's), its unit as shown; the name where the file has no label."""
        label = self.attr(name, "label", name)
        return label.replace("(bytes", "(GiB") if self.attr(name, "unit") == "bytes" else label

    def sweep_metrics(self, phase):
        """The metrics a phase's sensitivity curves draw, in the registry's order."""
        drawn = [(int(self.attr(m, "sweep")), m) for m in self.metrics
                 if self.attr(m, "sweep").isdigit() and phase in self.attr(m, "sweep_phases").split(",")]
        return [m for _, m in sorted(drawn)]

    def is_comm_kind(self, kind):
        """Does an op kind of the breakdown run on the communication stream?"""
        return self.attr("breakdown_s." + kind, "stream") == "comm"

    def infeasible(self, i):
        """Ran, but its peak memory exceeds the capacity (its metrics are kept, the point is not a result)."""
        return str(self.points["status"][i]).startswith("infeasible")

    def indices(self, group=None, phase=None):
        return [i for i in range(self.n())
                if (group is None or self.points["group"][i] == group)
                and (phase is None or self.points["phase"][i] == phase)]


def read_column(ds):
    values = ds[()]
    if values.dtype.kind in "SOU":
        return [text(v) for v in values]
    return np.asarray(values, dtype=np.float64)


def attrs_of(obj):
    out = {}
    for k, v in obj.attrs.items():
        if isinstance(v, (bytes, str, np.bytes_, np.str_)):
            out[k] = text(v)
        elif np.ndim(v) == 0:
            out[k] = v.item() if hasattr(v, "item") else v
        else:
            out[k] = v
    return out


def read_table(name, g):
    attrs = attrs_of(g)
    columns = [c for c in text(attrs.get("columns", "")).split(",") if c] or sorted(g.keys())
    missing = [c for c in columns if c not in g]
    if missing:
        raise ReportError(f"/tables/{name} lists columns {', '.join(missing)} that it does not hold")
    data = {c: read_column(g[c]) for c in columns}
    units = {c: text(g[c].attrs.get("unit", "")) for c in columns}
    t = Table(name, text(attrs.get("title", name)), text(attrs.get("source", "")), columns, data, units, attrs)
    lengths = {c: len(v) for c, v in data.items()}
    if len(set(lengths.values())) > 1:
        t.error = "columns of different lengths (" + ", ".join(f"{c}: {n}" for c, n in lengths.items()) + ")"
    return t


def load_study(path):
    if not os.path.exists(path):
        raise ReportError(f"{path}: no such file (run {STUDY_HINT} first)")
    if os.path.isdir(path):
        raise ReportError(f"{path}: a folder; expected a study's results.h5 (e.g. {os.path.join(path, 'results.h5')})")
    if not h5py.is_hdf5(path):
        raise ReportError(f"{path}: expected a study's results.h5, found a file that is not HDF5")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise ReportError(f"{path}: an HDF5 file that cannot be opened (corrupt or truncated?): {exc}") from exc
    try:
        with f:
            return read_study(path, f)
    except ReportError:
        raise
    except (OSError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ReportError(f"{path}: a malformed study result ({exc.__class__.__name__}: {exc})") from exc


def read_study(path, f):
    attrs = attrs_of(f)
    if attrs.get("format") != STUDY_FORMAT:
        raise ReportError(f"{path}: expected format '{STUDY_FORMAT}', found "
                          f"'{attrs.get('format', 'no format attribute')}' (not a v3sim study result)")
    if "points" not in f or not isinstance(f["points"], h5py.Group):
        raise ReportError(f"{path}: a study result without /points")
    points = {k: read_column(f["points"][k]) for k in f["points"].keys()}
    for col in ("label", "group", "phase", "status"):
        if col not in points:
            raise ReportError(f"{path}: /points has no '{col}' dataset")
    n = len(points["label"])
    points.setdefault("value", [""] * n)
    points.setdefault("value_num", np.full(n, np.nan))
    points.setdefault("index", np.arange(n))
    for col, values in points.items():
        if len(values) != n:
            raise ReportError(f"{path}: /points/{col} has {len(values)} entries, /points/label {n}")
    metrics, metric_attrs = {}, {}
    for k in f.get("metrics", {}).keys():
        metrics[k] = np.asarray(f["metrics"][k][()], dtype=np.float64)
        metric_attrs[k] = attrs_of(f["metrics"][k])
        if metrics[k].shape != (n,):
            raise ReportError(f"{path}: /metrics/{k} has shape {metrics[k].shape}, expected one value per point ({n})")
    tables = {k: read_table(k, f["tables"][k]) for k in f.get("tables", {}).keys()}
    return Study(path, attrs, points, metrics, tables, metric_attrs)


@dataclass
class Trace:
    path: str
    meta: dict = field(default_factory=dict)
    ops: list = field(default_factory=list)  # (name, kind, duration_s, flops)
    error: str = ""
    name: str = ""  # as the report shows it: the path from the traces folder, that folder's name first


def load_trace(path):
    t = Trace(path)
    try:
        with h5py.File(path, "r") as f:
            t.meta = attrs_of(f["meta"]) if "meta" in f else {}
            if t.meta.get("format") != TRACE_FORMAT or "timeline" not in f:
                t.error = f"not a v3sim result (format '{t.meta.get('format', 'missing')}')"
                return t
            for row in f["timeline"][()]:
                t.ops.append((text(row["name"]), text(row["kind"]), float(row["duration_ps"]) * 1e-12,
                              float(row["flops"])))
    except OSError as exc:
        t.error = f"unreadable ({exc.__class__.__name__}: not HDF5?)"
    except (KeyError, ValueError, TypeError, IndexError) as exc:
        t.error = f"a malformed /timeline ({exc.__class__.__name__}: {exc})"
        t.ops = []
    return t


def load_traces(folder):
    if not folder:
        return None
    if not os.path.isdir(folder):
        raise ReportError(f"--traces {folder}: no such folder")
    paths = []
    for root, _, files in os.walk(folder):
        paths += [os.path.join(root, f) for f in files if f.endswith(".h5")]
    traces = [load_trace(p) for p in sorted(paths)]
    top = os.path.basename(os.path.normpath(os.path.abspath(folder)))
    for t in traces:
        t.name = "/".join([top] + os.path.relpath(t.path, folder).split(os.sep))
    return traces


# ---------------------------------------------------------------------------------------------------------------
# The document: blocks rendered both as Markdown and as HTML


@dataclass
class Figure:
    name: str
    caption: str
    svg: str


class Doc:
    """An ordered list of blocks: ("h", level, text, anchor), ("p", text), ("note", text), ("ul", items),
    ("table", id, header, rows, numeric), ("fig", Figure)."""

    def __init__(self, outdir):
        self.blocks = []
        self.outdir = outdir
        self.figures = []

    def heading(self, level, title, anchor=None):
        self.blocks.append(("h", level, title, anchor))

    def para(self, t):
        self.blocks.append(("p", t))

    def missing(self, t):
        self.blocks.append(("note", "**Missing:** " + t))

    def bullets(self, items):
        items = list(items)
        if items:
            self.blocks.append(("ul", items))

    def claims(self, items):
        """A list of (claim, detail): the claim in full, the detail after it in smaller print."""
        items = list(items)
        if items:
            self.blocks.append(("claims", items))

    def table(self, tid, header, rows, numeric=None):
        """numeric: indices of right-aligned columns (default: every column but the first)."""
        numeric = set(range(1, len(header))) if numeric is None else set(numeric)
        self.blocks.append(("table", tid, list(header), [[text(c) for c in r] for r in rows], numeric))

    def figure(self, fig, name, caption):
        """Saves a matplotlib figure as figures/NAME.svg and .png and places it here."""
        figdir = os.path.join(self.outdir, "figures")
        os.makedirs(figdir, exist_ok=True)
        fig.savefig(os.path.join(figdir, name + ".png"), dpi=110, bbox_inches="tight")
        buf = io.StringIO()
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
        plt.close(fig)
        write_atomically(os.path.join(figdir, name + ".svg"), buf.getvalue())
        f = Figure(name, caption, inline_svg(buf.getvalue(), name))
        self.figures.append(f)
        self.blocks.append(("fig", f))


def inline_svg(svg, prefix):
    """matplotlib's SVG made fit to sit inside HTML: no XML prolog or metadata, ids prefixed so that several
    figures on one page cannot collide; its width and height stay, and the page's CSS shrinks it to fit."""
    s = svg[svg.index("<svg"):]
    s = re.sub(r"<metadata>.*?</metadata>", "", s, flags=re.S)
    s = re.sub(r'id="([^"]+)"', lambda m: f'id="{prefix}-{m.group(1)}"', s)
    s = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{prefix}-{m.group(1)})", s)
    s = re.sub(r'href="#([^"]+)"', lambda m: f'href="#{prefix}-{m.group(1)}"', s)
    return s.replace("<svg ", f'<svg role="img" aria-label="{html.escape(prefix)}" ', 1)


def md_cell(t):
    return t.replace("|", "\\|").replace("\n", " ")


def render_markdown(doc, title):
    out = [f"# {title}", ""]
    for b in doc.blocks:
        kind = b[0]
        if kind == "h":
            out += ["#" * b[1] + " " + b[2], ""]
        elif kind in ("p", "note"):
            out += [("> " if kind == "note" else "") + b[1], ""]
        elif kind == "ul":
            out += [f"- {item}" for item in b[1]] + [""]
        elif kind == "claims":
            out += [f"- {claim}" + (f"<br>\n  <small>{detail}</small>" if detail else "") for claim, detail in b[1]]
            out.append("")
        elif kind == "table":
            _, _, header, rows, numeric = b
            out.append("| " + " | ".join(md_cell(h) for h in header) + " |")
            out.append("|" + "|".join("---:" if i in numeric else "---" for i in range(len(header))) + "|")
            out += ["| " + " | ".join(md_cell(c) for c in r) + " |" for r in rows]
            out.append("")
        elif kind == "fig":
            f = b[1]
            out += [f"![{f.caption}](figures/{f.name}.png)", "", f"*{f.caption}* ([SVG](figures/{f.name}.svg))", ""]
    return "\n".join(out)


def inline_html(t):
    """Escapes text and turns `code` and **bold** into HTML."""
    s = html.escape(t, quote=False)
    s = re.sub(r"`([^`]+)`", r"<code>\1</code>", s)
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", s)


CSS = """
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#1d232a;
 background:#f6f7f9;margin:0}
main{max-width:1120px;margin:0 auto;padding:24px 32px 64px;background:#fff;box-shadow:0 0 12px rgba(0,0,0,.06)}
h1{font-size:28px;margin:8px 0 4px}h2{font-size:22px;margin:40px 0 8px;padding-top:12px;border-top:2px solid #e3e6ea}
h3{font-size:17px;margin:24px 0 6px}
nav ol{columns:2;margin:8px 0 0;padding-left:0;list-style:none}nav a{color:#2c5d9c;text-decoration:none}
table{border-collapse:collapse;margin:8px 0 16px;font-size:13.5px;display:block;overflow-x:auto;max-width:100%}
th,td{padding:4px 10px;border-bottom:1px solid #e3e6ea;text-align:left;vertical-align:top}
th{background:#eef1f5;font-weight:600;vertical-align:bottom}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}td.num{white-space:nowrap}
tr:nth-child(even) td{background:#fafbfc}
figure{margin:12px 0 20px}figure svg{max-width:100%;height:auto;display:block}
figcaption{font-size:13px;color:#56606b;margin-top:4px}
code{font:13px ui-monospace,"DejaVu Sans Mono",monospace;background:#f0f2f5;padding:1px 4px;border-radius:3px}
.note{border-left:4px solid #d9a400;background:#fff8e1;padding:8px 12px;margin:8px 0}
ul{margin:6px 0 12px}
ul.claims{list-style:none;padding:0;margin:12px 0 16px}
ul.claims li{border-left:4px solid #4c72b0;background:#f5f8fc;padding:8px 12px;margin:0 0 8px}
ul.claims .claim{display:block;font-size:16px}ul.claims .claim code{font-size:15px;font-weight:700;background:none;padding:0}
ul.claims .detail{display:block;font-size:13px;color:#56606b;margin-top:3px}
"""


def render_html(doc, title, toc):
    body = []
    for b in doc.blocks:
        kind = b[0]
        if kind == "h":
            anchor = f' id="{b[3]}"' if b[3] else ""
            body.append(f"<h{b[1]}{anchor}>{inline_html(b[2])}</h{b[1]}>")
        elif kind == "p":
            body.append(f"<p>{inline_html(b[1])}</p>")
        elif kind == "note":
            body.append(f'<p class="note">{inline_html(b[1])}</p>')
        elif kind == "ul":
            body.append("<ul>" + "".join(f"<li>{inline_html(i)}</li>" for i in b[1]) + "</ul>")
        elif kind == "claims":
            body.append('<ul class="claims">' + "".join(
                f'<li><span class="claim">{inline_html(c)}</span>' +
                (f'<span class="detail">{inline_html(d)}</span>' if d else "") + "</li>" for c, d in b[1]) + "</ul>")
        elif kind == "table":
            _, tid, header, rows, numeric = b
            cls = lambda i: ' class="num"' if i in numeric else ""  # noqa: E731
            head = "".join(f"<th{cls(i)}>{html.escape(h)}</th>" for i, h in enumerate(header))
            trs = "".join("<tr>" + "".join(f"<td{cls(i)}>{html.escape(c)}</td>" for i, c in enumerate(r)) + "</tr>"
                          for r in rows)
            body.append(f'<table id="{tid}"><thead><tr>{head}</tr></thead><tbody>{trs}</tbody></table>')
        elif kind == "fig":
            f = b[1]
            body.append(f'<figure id="fig-{f.name}" data-figure="{f.name}">{f.svg}'
                        f"<figcaption>{inline_html(f.caption)}</figcaption></figure>")
    nav = "".join(f'<li><a href="#{a}">{html.escape(t)}</a></li>' for a, t in toc)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(title)}</title><style>{CSS}</style></head>\n"
            f"<body><main><h1>{html.escape(title)}</h1><nav><ol>{nav}</ol></nav>\n" + "\n".join(body) +
            "\n</main></body></html>\n")


# ---------------------------------------------------------------------------------------------------------------
# Proposals and gains


def is_combination(label):
    """The point that applies every proposal at once: `all`, `all-proposals`, `all_sm` ..."""
    return label == "all" or label.startswith(("all-", "all_"))


def proposal_labels(study):
    """The proposals in the order of the study, baseline first and the combination (`all...`) last."""
    labels = []
    for i in study.indices(group="proposals"):
        if study.points["label"][i] not in labels:
            labels.append(study.points["label"][i])
    rest = [lab for lab in labels if lab != "baseline" and not is_combination(lab)]
    return (["baseline"] if "baseline" in labels else []) + rest + [lab for lab in labels if is_combination(lab)]


def proposal_point(study, label, phase):
    for i in study.indices(group="proposals", phase=phase):
        if study.points["label"][i] == label:
            return i
    return None


def step_time(study, label, phase):
    i = proposal_point(study, label, phase)
    return study.metric("step_time_s", i) if i is not None and study.ok(i) else float("nan")


def gain(study, label, phase):
    """baseline step time / proposal step time - 1, as a percentage; NaN when either is missing."""
    base, t = step_time(study, "baseline", phase), step_time(study, label, phase)
    return 100.0 * (base / t - 1.0) if finite(base) and finite(t) and t > 0 else float("nan")


def gain_parts(study, label, phase):
    """(the gain as text, why there is none): ("+3.0%", "") or ("n/a", "the train point failed")."""
    g = gain(study, label, phase)
    if finite(g):
        return pct(g), ""
    for who, whose in ((label, ""), ("baseline", " of the baseline")):
        i = proposal_point(study, who, phase)
        if i is None:
            return "n/a", f"no {phase} point{whose}"
        if not study.ok(i):
            return "n/a", f"the {phase} point{whose} failed"
    return "n/a", f"no step time in {phase}"


def display_label(label):
    return f"{label} (combination)" if is_combination(label) else label


def study_phases(study, group="proposals"):
    present = {study.points["phase"][i] for i in study.indices(group=group)}
    return [p for p in PHASES if p in present] + sorted(present - set(PHASES))


# ---------------------------------------------------------------------------------------------------------------
# What a proposal costs in numerics, and how close the model behind it came to measured hardware


# A chip's name: H800, B200, GB200, A100 (not a number format: FP32, BF16, TF32).
CHIP_NAME = r"(?!FP|BF|TF|fp|bf|tf)[A-Z]{1,2}[0-9]{2,4}[A-Z]?|(?!fp|bf|tf)[a-z]{1,2}[0-9]{2,4}[a-z]?"


def words(s):
    return set(re.findall(r"[a-z0-9]+", s.lower()))


def error_columns(t):
    """The error columns of numerics_error_vs_k, the headline one (mean relative error) first."""
    known = [c for c in ("mean_rel_error", "max_rel_error", "normwise_error", "rel_error") if t.numeric(c)]
    other = [c for c in t.columns if t.numeric(c) and c not in known and c != "k" and "error" in c]
    return known + other


def numerics_usable(t):
    return t is not None and not t.error and t.rows() > 0 and t.has("accumulator", "k") and error_columns(t)


def accumulator_of(study, label):
    """The accumulator (a label of numerics_error_vs_k) that `label` runs its FP8 GEMMs with, or None.

    Linked, in order: by a `proposal` column of the table (the labels, comma- or space-separated, that run with the
    row's accumulator); by the accumulator's label holding every word of the proposal label (`fp32-accumulation` ->
    "H800 + FP32 accumulation (proposal) ..."), or the proposal label holding every distinctive word of the
    accumulator's (`fp32-accumulation` -> "fp32"; chip names and "tensor core only" are not distinctive); for the
    baseline, by a label that says "baseline", else "DeepGEMM", else "promotion"/"promoted" (DeepSeek-V3's FP8 GEMMs
    on H800 promote to FP32 every 128 K, as DeepGEMM does). A combination takes the lowest-error accumulator among
    those of the single proposals it combines."""
    t = study.tables.get("numerics_error_vs_k")
    if not numerics_usable(t):
        return None
    accs = list(dict.fromkeys(t.data["accumulator"]))
    if t.has("proposal") and not t.numeric("proposal"):
        for i in range(t.rows()):
            if label in re.split(r"[,\s]+", t.data["proposal"][i]):
                return t.data["accumulator"][i]
    if label == "baseline":
        for key in ("baseline", "deepgemm", "promot"):
            hit = [a for a in accs if any(w.startswith(key) for w in words(a))]
            if hit:
                return hit[0]
        return None
    if is_combination(label):
        singles = [lab for lab in proposal_labels(study) if lab != "baseline" and not is_combination(lab)]
        linked = {accumulator_of(study, lab) for lab in singles} - {None}
        scored = [(numerics_error(t, a, max(t.data["k"]))[0], a) for a in linked]
        scored = [x for x in scored if finite(x[0])]
        return min(scored)[1] if scored else None
    want = words(label)
    hit = [a for a in accs if want <= words(a)] or [a for a in accs if distinctive(a) and distinctive(a) <= want]
    return hit[0] if hit else None


def distinctive(accumulator):
    """The words of an accumulator label that can name a proposal: not chip names, not "tensor core only"."""
    return {w for w in words(accumulator) if not re.fullmatch(CHIP_NAME, w, re.I)} - \
        {"tensor", "core", "cores", "only", "proposal", "the", "with", "and", "in"}


def numerics_error(t, acc, k):
    """(error, column) of accumulator `acc` at K = k in the headline error column; NaN when absent."""
    col = error_columns(t)[0]
    for i in range(t.rows()):
        if t.data["accumulator"][i] == acc and t.data["k"][i] == k:
            return float(t.data[col][i]), col
    return float("nan"), col


@dataclass
class NumericsCost:
    change_pct: float  # 100 (proposal error / baseline error - 1); NaN when unknown
    phrase: str  # "+0.0%", "-59%" or "an unknown amount"
    detail: str
    linked: bool = True  # False: the table is there but no accumulator of it is linked to the proposal
    scope: str = "proposal"  # "study": the detail holds for every proposal (no table ...); "unlinked": see linked


def numerics_cost(study, label):
    """What `label` costs in FP8 GEMM error against the baseline: from a per-point metric `numerics_rel_error` when
    the study has one, else from numerics_error_vs_k at its largest K (see accumulator_of)."""
    if "numerics_rel_error" in study.metrics:
        vals = {}
        for who in ("baseline", label):
            ok = [i for p in study_phases(study) for i in [proposal_point(study, who, p)] if i is not None and study.ok(i)]
            vals[who] = study.metric("numerics_rel_error", ok[0]) if ok else float("nan")
        b, v = vals["baseline"], vals[label]
        if finite(b) and finite(v) and b > 0:
            c = 100.0 * (v / b - 1.0)
            return NumericsCost(c, pct(c), f"FP8 GEMM relative error {sci(v)} against the baseline's {sci(b)} "
                                           "(metric `numerics_rel_error`)")
    t = study.tables.get("numerics_error_vs_k")
    if not numerics_usable(t):
        return NumericsCost(float("nan"), "an unknown amount",
                            "results.h5 has no usable `numerics_error_vs_k` table (section 5 says how to produce it)",
                            scope="study")
    base_acc, acc = accumulator_of(study, "baseline"), accumulator_of(study, label)
    if base_acc is None:
        return NumericsCost(float("nan"), "an unknown amount",
                            "no accumulator of `numerics_error_vs_k` is linked to the baseline (section 5 gives the "
                            "rules)", scope="study")
    if acc is None:
        return NumericsCost(float("nan"), "an unknown amount",
                            "not linked to an accumulator of `numerics_error_vs_k`", linked=False,
                            scope="unlinked")
    common = set(k for k, a in zip(t.data["k"], t.data["accumulator"]) if a == acc) & \
        set(k for k, a in zip(t.data["k"], t.data["accumulator"]) if a == base_acc)
    if not common:
        return NumericsCost(float("nan"), "an unknown amount", f"`{acc}` and `{base_acc}` share no K")
    k = max(common)
    (v, col), (b, _) = numerics_error(t, acc, k), numerics_error(t, base_acc, k)
    if not (finite(v) and finite(b) and b > 0):
        return NumericsCost(float("nan"), "an unknown amount", f"no {col} at K = {k:,.0f}")
    c = 100.0 * (v / b - 1.0)
    what = error_label(col)
    detail = (f"{what} of an FP8 GEMM at K = {k:,.0f}: {sci(v)} with `{acc}` against {sci(b)} with the baseline's "
              f"`{base_acc}`" if acc != base_acc else f"it accumulates as the baseline does (`{acc}`)")
    return NumericsCost(c, pct(c), detail)


# ---------------------------------------------------------------------------------------------------------------
# Trust: which cost model priced the time a proposal changes, and how close each model came to measured hardware on
# data it was not fitted on

# The cost models of sim/exec/op_cost.h (CostModel's to_string), in its order. Only the order of tables: a model the
# study's metrics (model_s.<model>) or its data name that is not listed here counts the same.
COST_MODELS = ("cycle-gemm", "cycle-cast", "cycle-alltoall", "roofline", "streaming", "analytical", "dropped")
MODEL_PREFIX = "model_s."
# Categories of comparisons.json that total finer ones (compute: every compute row; gemm: dense + grouped;
# membound_all: membound + other): left out so that each measured kernel is one datum.
AGGREGATE_CATEGORIES = ("compute", "gemm", "membound_all")
# A measured-trace op within this (relative) of the measured figure of the validation row of its shape is that
# row's datum again (traces/published/ converts the same published tables), not a second check.
SAME_DATUM = 0.005
ROLES = ("predicted", "fitted")


@dataclass
class Datum:
    """One measured figure and the projections of it. Every measured datum has one role: `fitted` (it informed the
    constants of the model it checks: its in-sample figure is a fit residual, its out-of-sample figure a
    cross-validated projection, when there is one), `predicted` (it informed none: its projection is out of sample),
    or `unknown` (an older table that does not say: nothing counts as out of sample)."""
    origin: str  # "validation", "trace" (an independent measurement of a validation case), "comparison"
    suite: str
    case: str
    models: tuple  # the cost models whose ops it measures; empty: unknown
    role: str
    measured: float
    unit: str
    projected: float = float("nan")  # out of sample (fitted: cross-validated); NaN when there is none
    error_pct: float = float("nan")
    fit_projected: float = float("nan")  # in sample (fitted rows)
    fit_error_pct: float = float("nan")
    source: str = ""

    def out_of_sample(self):
        return self.role in ROLES and finite(self.error_pct)

    def residual(self):
        """(projection, error) in sample, or of unknown role; None for a predicted datum."""
        if self.role == "fitted" and finite(self.fit_error_pct):
            return self.fit_projected, self.fit_error_pct
        if self.role == "unknown" and finite(self.error_pct):
            return self.projected, self.error_pct
        return None


@dataclass
class ModelStats:
    """A cost model's out-of-sample record: the data that check it (n), their mean |error| (MAPE), the worst."""
    model: str
    data: list  # out-of-sample data naming the model
    roles: dict  # role -> data naming the model, out of sample or not

    @property
    def n(self):
        return len(self.data)

    @property
    def validated(self):
        return self.n > 0

    @property
    def roles_total(self):
        return sum(self.roles.values())

    @property
    def mape(self):
        return sum(abs(d.error_pct) for d in self.data) / self.n if self.data else float("nan")

    @property
    def worst(self):
        return max(self.data, key=lambda d: abs(d.error_pct)) if self.data else None


@dataclass
class Evidence:
    """Every measured datum once, the measured-trace ops matched against validation cases, and per cost model its
    out-of-sample record."""
    data: list
    trace_rows: list
    stats: dict  # model -> ModelStats, in COST_MODELS order then by name
    roles_known: bool  # the validation table says which rows were fitted (column `role`)
    comparisons_unusable: int = 0  # comparisons.json categories without `models`/`role` (an older v3sim)

    def mape(self, model):
        s = self.stats.get(model)
        return s.mape if s is not None and s.validated else None


def norm_role(r):
    r = text(r).strip().lower()
    return r if r in ROLES else "unknown"


def validation_data(v):
    """The validation table's rows as data (see Datum)."""
    out = []
    for i in range(len(v["case"])):
        role = norm_role(v["role"][i])
        model = text(v["model"][i]).strip()
        d = Datum("validation", v["suite"][i], v["case"][i], (model,) if model else (), role,
                  float(v["measured"][i]), v["unit"][i], float(v["projected"][i]), float(v["error_pct"][i]),
                  source=v["source"][i])
        if role == "fitted":
            d.fit_projected, d.fit_error_pct = float(v["fit_projected"][i]), float(v["fit_error_pct"][i])
        out.append(d)
    return out


def comparison_data(comparisons):
    """One datum per finest category of each comparison of comparisons.json that names its cost models and role;
    and the number of categories left out for lack of them."""
    out, unusable = [], 0
    for c in comparisons or []:
        if c.get("error"):
            continue
        for r in c.get("categories", []):
            name = r.get("name", "?")
            measured, projected, err = r.get("measured_ms"), r.get("projected_ms"), r.get("error")
            if name in AGGREGATE_CATEGORIES or not (finite(measured) and measured > 0 and finite(err)):
                continue
            models = tuple(m for m in (r.get("models") or []) if isinstance(m, str) and m)
            role = norm_role(r.get("role", ""))
            if not models or role == "unknown":
                unusable += 1
                continue
            d = Datum("comparison", f"trace {c.get('trace', '?')}", name, models, role, float(measured), "ms/layer",
                      source=f"comparisons.json: `{c.get('trace', '?')}` against `{c.get('deployment', '?')}`")
            if role == "predicted":
                d.projected, d.error_pct = float(projected), 100.0 * float(err)
            else:
                d.fit_projected, d.fit_error_pct = float(projected), 100.0 * float(err)
            out.append(d)
    return out, unusable


def model_names(study, data=()):
    """The cost models of the study's model_s.<model> metrics and of the data, COST_MODELS first."""
    names = {k[len(MODEL_PREFIX):] for k in study.metrics if k.startswith(MODEL_PREFIX)}
    names |= {m for d in data for m in d.models}
    return [m for m in COST_MODELS if m in names] + sorted(names - set(COST_MODELS))


def gather_evidence(study, traces, comparisons):
    t = study.tables.get("validation")
    v = validation_view(t)
    data = validation_data(v) if v is not None else []
    rows = trace_matches(traces or [], t, data)
    data += [r["datum"] for r in rows if r["datum"] is not None]
    cdata, unusable = comparison_data(comparisons)
    data += cdata
    stats = {}
    for m in model_names(study, data):
        mine = [d for d in data if m in d.models]
        roles = {r: sum(1 for d in mine if d.role == r) for r in ROLES + ("unknown",)}
        stats[m] = ModelStats(m, [d for d in mine if d.out_of_sample()], roles)
    return Evidence(data, rows, stats, v is not None and t.has("role"), unusable)


def has_model_metrics(study):
    """Does results.h5 hold the time each cost model priced (model_s.<model>, a value at some point)?"""
    return any(k.startswith(MODEL_PREFIX) and np.isfinite(v).any() for k, v in study.metrics.items())


def model_deltas(study, label, phase):
    """{cost model: baseline - proposal seconds per GPU of the ops it priced (model_s.<model>)} in one phase; None
    when a point is missing or failed, or the study has no model_s metrics."""
    i, b = proposal_point(study, label, phase), proposal_point(study, "baseline", phase)
    if i is None or b is None or not study.ok(i) or not study.ok(b):
        return None
    out = {}
    for m in model_names(study):
        vb, vi = study.metric(MODEL_PREFIX + m, b), study.metric(MODEL_PREFIX + m, i)
        if finite(vb) and finite(vi):
            out[m] = vb - vi
    return out or None


@dataclass
class Attribution:
    """Which cost models a change rests on: each model's weight (|time it changes|), and the out-of-sample MAPE of the
    validated ones."""
    weights: dict  # model -> |delta| (seconds in one phase; fractions of the baseline step across phases)
    mape: dict  # model -> out-of-sample MAPE (%), validated models only

    @property
    def total(self):
        return sum(self.weights.values())

    def share(self, m):
        return self.weights.get(m, 0.0) / self.total if self.total > 0 else float("nan")

    @property
    def validated_weight(self):
        return sum(w for m, w in self.weights.items() if m in self.mape)

    @property
    def unvalidated_share(self):
        """The share of the change priced by models with no out-of-sample datum (NaN when nothing changes)."""
        if self.total <= 0:
            return float("nan")
        return sum(w for m, w in self.weights.items() if m not in self.mape) / self.total

    @property
    def within_pct(self):
        """MAPE of the validated models weighted by the change they price; NaN when none is validated."""
        w = self.validated_weight
        return sum(self.weights[m] * self.mape[m] for m in self.weights if m in self.mape) / w if w > 0 else \
            float("nan")

    def amplification(self, base_s, step_s):
        """How much the step moved per second of op time the change moved: max(1, |baseline - proposal step| /
        sum |delta_m|). Above 1 where the step amplifies an op's change (pipeline stages wait on one another, so a
        kernel saved on every rank shortens the critical path more than the mean rank's busy time)."""
        if not (finite(base_s) and finite(step_s)) or self.total <= 0:
            return 1.0
        return max(1.0, abs(base_s - step_s) / self.total)

    def band_pct(self, step_s, base_s=float("nan")):
        """The gain's band in percentage points: the amplification times the sum over validated models of |delta| x
        MAPE, over the proposal's step time."""
        if not (finite(step_s) and step_s > 0):
            return float("nan")
        validated = sum(self.weights[m] * self.mape[m] / 100.0 for m in self.weights if m in self.mape)
        return 100.0 * self.amplification(base_s, step_s) * validated / step_s


def attribution(study, ev, label, phase):
    d = model_deltas(study, label, phase)
    if d is None:
        return None
    return Attribution({m: abs(x) for m, x in d.items()}, {m: ev.mape(m) for m in d if ev.mape(m) is not None})


def overall_attribution(study, ev, label):
    """Across the phases: each model's |delta| as a fraction of its phase's baseline step, summed (so that a phase
    counts by how much of its step the change moves, not by its step's length in seconds)."""
    weights, any_phase = {}, False
    for p in study_phases(study):
        d, base = model_deltas(study, label, p), step_time(study, "baseline", p)
        if d is None or not (finite(base) and base > 0):
            continue
        any_phase = True
        for m, x in d.items():
            weights[m] = weights.get(m, 0.0) + abs(x) / base
    if not any_phase:
        return None
    return Attribution(weights, {m: ev.mape(m) for m in weights if ev.mape(m) is not None})


def share_text(x):
    if not finite(x):
        return DASH
    x *= 100.0
    return f"{x:.0f}%" if x >= 10 or x == 0 else f"{x:.1f}%"


def band_value(study, ev, label, phase):
    """(band in percentage points or NaN, the attribution or None)."""
    a = attribution(study, ev, label, phase)
    if a is None:
        return float("nan"), None
    return a.band_pct(step_time(study, label, phase), step_time(study, "baseline", phase)), a


def within_band_of_zero(g, band):
    return finite(g) and finite(band) and abs(g) <= band


def band_number(band):
    """0.43 -> "0.4%"; a band under 0.05 points keeps two decimals ("0.03%")."""
    return f"{band:.1f}%" if band >= 0.05 or band == 0 else f"{band:.2f}%"


def band_text(study, ev, label, phase):
    """"±0.4%", "±0.4% (within its band of zero)", "n/a (unvalidated)" (the change rests on unvalidated models
    only) or a dash (no model_s metrics, or a point missing)."""
    band, a = band_value(study, ev, label, phase)
    if a is None or not finite(band):
        return DASH
    if a.total > 0 and a.validated_weight <= 0:
        return "n/a (unvalidated)"
    s = "\u00b1" + band_number(band)
    return s + (" (within its band of zero)" if within_band_of_zero(gain(study, label, phase), band) else "")


def unvalidated_text(study, ev, label, phase):
    a = attribution(study, ev, label, phase)
    return share_text(a.unvalidated_share) if a is not None else DASH


@dataclass
class ModelError:
    within_pct: float  # out-of-sample, change-weighted error of the validated models behind the proposal; NaN: none
    phrase: str
    detail: str
    unvalidated: float = float("nan")  # share of the change resting on unvalidated models (0..1)
    scope: str = "proposal"  # "study": the detail holds for every proposal


def model_error(study, label, ev):
    """How close the models behind `label` came to measured hardware, out of sample: the out-of-sample MAPE of each
    cost model whose ops' time the proposal changes, weighted by that change (Attribution), and the share of the
    change that rests on models with no out-of-sample datum."""
    if not has_model_metrics(study):
        return ModelError(float("nan"), "an unknown margin",
                          "results.h5 has no values of the `model_s.<cost model>` metrics (the time each cost model "
                          "priced), so no "
                          "gain can be attributed to a model; run the study again with a v3sim that writes them: "
                          f"{STUDY_HINT}", scope="study")
    a = overall_attribution(study, ev, label)
    if a is None:
        return ModelError(float("nan"), "an unknown margin", "no phase with both the baseline and this proposal")
    if a.total <= 0:
        return ModelError(float("nan"), "an unknown margin", "it changes the time of no op", 0.0)
    parts = []
    for m in sorted(a.weights, key=lambda m: -a.weights[m]):
        if a.share(m) < 0.005:
            continue
        s = ev.stats.get(m)
        parts.append(f"`{m}` {share_text(a.share(m))} of the change (" +
                     (f"out-of-sample MAPE {pct_plain(s.mape)}, n = {s.n}" if s is not None and s.validated
                      else "unvalidated") + ")")
    within, unval = a.within_pct, a.unvalidated_share
    phrase = pct_plain(within) if finite(within) else "an unknown margin"
    return ModelError(within, phrase, "; ".join(parts), unval)


def proposal_sentence(study, label, ev):
    """The headline: "`X` buys A% ± a% in V3 training and B% ± b% in decode, costs C in numerics error, and the model
    behind it was within D% of measured hardware (X% of the change rests on unvalidated models)." plus where each
    number comes from (reasons that hold for every proposal are left to one note after the list)."""
    cost, err = numerics_cost(study, label), model_error(study, label, ev)

    def gain_clause(phase):
        g, why = gain_parts(study, label, phase)
        if why:
            return g, why
        band, a = band_value(study, ev, label, phase)
        if a is None or not finite(band) or (a.total > 0 and a.validated_weight <= 0):
            return g, ""
        flag = "within its band of zero" if within_band_of_zero(gain(study, label, phase), band) else ""
        return f"{g} \u00b1 {band_number(band)}", flag

    def clause(phase, where):
        g, why = gain_clause(phase)
        return f"{g} in {where}" + (f" ({why})" if why else "")

    extra = []
    for p in study_phases(study):
        if p not in ("train", "decode"):
            g, why = gain_clause(p)
            extra.append(f"{p}: {g}" + (f", {why}" if why else ""))
    better = " (less error than the baseline)" if finite(cost.change_pct) and cost.change_pct < -0.05 else ""
    unval = (f" ({share_text(err.unvalidated)} of the change rests on unvalidated models)"
             if finite(err.unvalidated) and err.unvalidated > 0 else "")
    head = (f"**`{display_label(label)}`** buys {clause('train', 'V3 training')} and {clause('decode', 'decode')}"
            + (f" ({'; '.join(extra)})" if extra else "")
            + f", costs {cost.phrase} in numerics error{better}, and the model behind it was within {err.phrase} of "
              f"measured hardware{unval}.")
    details = [f"Numerics: {cost.detail}." if cost.scope == "proposal" else "",
               f"Models: {err.detail}." if err.scope == "proposal" and err.detail else ""]
    return head, " ".join(d for d in details if d)


# ---------------------------------------------------------------------------------------------------------------
# Sections


def section_summary(doc, study, traces, ev):
    doc.heading(2, "1. Summary", "summary")
    labels = [lab for lab in proposal_labels(study) if lab != "baseline"]
    phases = study_phases(study)
    if not labels or "baseline" not in proposal_labels(study):
        doc.missing("results.h5 holds no baseline and proposal points (group `proposals`), so there is no headline. "
                    f"Run the default study: {STUDY_HINT}.")
    else:
        doc.claims(proposal_sentence(study, lab, ev) for lab in labels)
        costs = [numerics_cost(study, lab) for lab in labels]
        margins = [model_error(study, lab, ev) for lab in labels]
        for what, notes in (("Numerics error", costs), ("Model margin", margins)):
            study_wide = [n.detail for n in notes if n.scope == "study"]
            if study_wide:
                doc.para(f"{what} unknown for every proposal: {study_wide[0]}.")
        if not any(s.validated for s in ev.stats.values()) and has_model_metrics(study):
            doc.para("No cost model has an out-of-sample datum (section 7 says why), so every gain rests entirely on "
                     "unvalidated models and has no band.")
        unlinked = [lab for lab in labels if not numerics_cost(study, lab).linked]
        if unlinked:
            base_acc = accumulator_of(study, "baseline")
            doc.para("Numerics cost not in results.h5 for " + ", ".join(f"`{lab}`" for lab in unlinked) +
                     ": no accumulator of `numerics_error_vs_k` is linked to them (the rules are in section 5). A "
                     "proposal that leaves FP8 accumulation as it is costs nothing: it accumulates as the baseline "
                     f"does (`{base_acc}`).")
        over = over_capacity(study, proposal_labels(study), phases)
        if over:
            where = sorted({p for _, p, _, _ in over}, key=phases.index)
            doc.para(f"**Memory.** {len(over)} proposal point{'s' if len(over) > 1 else ''} (" +
                     ", ".join(f"{sum(1 for _, q, _, _ in over if q == p)} in {p}" for p in where) +
                     ") need more memory per GPU than the GPU has: the simulated step assumes memory that is not "
                     "there (section 3, Memory per GPU).")
        doc.para("Gain: baseline step time / proposal step time \u2212 1, same phase (a faster step is a positive "
                 "gain). Band: k \u00d7 the sum over cost models of |\u0394m| \u00d7 MAPEm over the proposal's step "
                 "time, where \u0394m is the baseline's minus the proposal's time of the ops cost model m priced "
                 "(metric `model_s.<model>`, per GPU, all streams), MAPEm is m's out-of-sample error (section 7), "
                 "and k = max(1, |step-time change| / \u03a3|\u0394m|) is how much the step amplifies the ops' "
                 "change (pipeline stages wait on one another): to first order, op times off by their model's "
                 "typical error move the gain by that much. The band covers the "
                 "validated share of the change only; the unvalidated share (the part of \u03a3|\u0394m| priced by "
                 "models with no out-of-sample datum) has no error estimate. A gain no larger than its band is "
                 "flagged \"within its band of zero\". Numerics error: the change of the FP8 GEMM error against the "
                 "baseline's accumulation (section 5; negative is more accurate). Model within: the out-of-sample "
                 "MAPE of the validated models, weighted by |\u0394m| (across phases, |\u0394m| as a fraction of "
                 "the phase's baseline step); never a fit residual.")
        header = ["proposal"]
        for p in phases:
            header += [f"{p} gain", f"{p} band", f"{p} unvalidated"]
        rows = []
        for lab in labels:
            row = [display_label(lab)]
            for p in phases:
                row += [pct(gain(study, lab, p)), band_text(study, ev, lab, p), unvalidated_text(study, ev, lab, p)]
            err = model_error(study, lab, ev)
            row += [numerics_cost(study, lab).phrase, err.phrase, share_text(err.unvalidated)]
            rows.append(row)
        doc.table("table-headline", header + ["numerics error", "model within", "unvalidated"], rows)
    a = study.attrs
    ok = sum(study.ok(i) for i in range(study.n()))
    doc.heading(3, "Provenance")
    doc.table("table-provenance", ["item", "value"], [
        ["study", a.get("study", DASH)], ["tool version", a.get("tool_version", DASH)],
        ["git revision", a.get("git_revision", DASH)], ["created (UTC)", a.get("created_utc", DASH)],
        ["results file", os.path.abspath(study.path)], ["points", f"{study.n()} ({ok} ok, {study.n() - ok} failed)"],
        ["tables", ", ".join(sorted(study.tables)) or "none"],
        ["measured traces", "not given (--traces)" if traces is None else str(len(traces))]], numeric=[])
    failed_points(doc, study)


def failed_points(doc, study):
    bad = [i for i in range(study.n()) if not study.ok(i)]
    doc.heading(3, "Failed points")
    if not bad:
        doc.para(f"None: all {study.n()} points ran.")
        return
    infeasible = sum(1 for i in bad if study.infeasible(i))
    doc.para(f"{len(bad)} of {study.n()} points failed or did not fit ({infeasible} infeasible: their peak memory "
             f"exceeds the GPU's capacity); their metrics show as {DASH} everywhere.")
    doc.table("table-failed", ["#", "label", "group", "phase", "value", "status"],
              [[str(int(study.points["index"][i])), study.points["label"][i], study.points["group"][i],
                study.points["phase"][i], study.points["value"][i], study.points["status"][i]] for i in bad],
              numeric=[0])


def section_gain(doc, study, ev):
    doc.heading(2, "2. Per-proposal gain for each phase", "gain")
    labels = [lab for lab in proposal_labels(study) if lab != "baseline"]
    phases = study_phases(study)
    if not labels or not any(finite(step_time(study, "baseline", p)) for p in phases):
        doc.missing("results.h5 has no baseline point with a step time (group `proposals`, label `baseline`) and "
                    f"proposal points to compare with it. Run {STUDY_HINT}.")
        return
    doc.figure(gain_figure(study, ev, labels, phases), "proposal-gain",
               "Step-time gain of each proposal over the baseline, per phase (baseline step time / proposal step "
               "time \u2212 1); the whiskers are the bands (section 1), where the change rests on validated models.")
    rows = []
    for lab in labels:
        for p in phases:
            i = proposal_point(study, lab, p)
            status = ("no point" if i is None else "ok" if study.ok(i) else
                      "infeasible: over memory capacity (see Failed points)" if study.infeasible(i) else
                      "failed (see Failed points)")
            rows.append([display_label(lab), p, num(step_time(study, "baseline", p), 4),
                         num(step_time(study, lab, p), 4), pct(gain(study, lab, p)), band_text(study, ev, lab, p),
                         unvalidated_text(study, ev, lab, p), status])
    doc.table("table-gain", ["proposal", "phase", "baseline step (s)", "step (s)", "gain", "band", "unvalidated",
                             "status"], rows, numeric=[2, 3, 4, 5, 6])
    attribution_table(doc, study, ev, labels, phases)


def attribution_table(doc, study, ev, labels, phases):
    """Which cost models each gain rests on: the share of the changed op time each model priced."""
    doc.heading(3, "Which cost models each gain rests on")
    if not has_model_metrics(study):
        doc.missing("results.h5 has no values of the `model_s.<cost model>` metrics (the time per GPU of the ops each "
                    "cost model priced), so no gain can be attributed to the models behind it. Run the study again "
                    f"with a v3sim that writes them: {STUDY_HINT}.")
        return
    found = {(lab, p): model_deltas(study, lab, p) for lab in labels for p in phases}
    models = [m for m in model_names(study) if any(d and d.get(m) for d in found.values())]
    doc.para("\u0394m: the baseline's minus the proposal's time per GPU of the ops cost model m priced "
             "(`model_s.<m>`, all streams); each model's column is its share of \u03a3|\u0394m|, the time the "
             "proposal changes (shown as a fraction of the baseline step). The models' out-of-sample records are in "
             "section 7: " + "; ".join(
                 f"`{m}` " + (f"MAPE {pct_plain(ev.stats[m].mape)} (n = {ev.stats[m].n})" if ev.mape(m) is not None
                              else "unvalidated") for m in models) + ".")
    rows = []
    for lab in labels:
        for p in phases:
            d, a = found[(lab, p)], attribution(study, ev, lab, p)
            base = step_time(study, "baseline", p)
            if d is None or a is None:
                continue
            changed = 100.0 * a.total / base if finite(base) and base > 0 else float("nan")
            rows.append([display_label(lab), p, pct_plain(changed)] + [share_text(a.share(m)) for m in models] +
                        [share_text(a.unvalidated_share), pct_plain(a.within_pct), band_text(study, ev, lab, p)])
    doc.table("table-attribution", ["proposal", "phase", "changed (% of baseline step)"] + models +
              ["unvalidated", "model within", "band"], rows)


def gain_figure(study, ev, labels, phases):
    fig, ax = plt.subplots(figsize=(10, 4.2))
    width = 0.8 / max(1, len(phases))
    x = np.arange(len(labels))
    for j, p in enumerate(phases):
        gains = [gain(study, lab, p) for lab in labels]
        bands = [band_value(study, ev, lab, p) for lab in labels]
        err = [b if finite(b) and a is not None and a.validated_weight > 0 else 0 for b, a in bands]
        pos = x - 0.4 + width * (j + 0.5)
        ax.bar(pos, [g if finite(g) else 0 for g in gains], width, label=p, color=PHASE_COLORS[p],
               yerr=err if any(err) else None, error_kw={"elinewidth": 0.8, "capsize": 2, "ecolor": "#333"})
        for xi, g, e in zip(pos, gains, err):
            label = f"{g:+.1f}" if finite(g) else "n/a"
            up = not finite(g) or g >= 0
            ax.annotate(label, (xi, (g + (e if up else -e)) if finite(g) else 0), ha="center",
                        va="bottom" if up else "top", fontsize=7, xytext=(0, 2 if up else -2),
                        textcoords="offset points")
    ax.axhline(0, color="#333", lw=0.8)
    ax.set_xticks(x, [display_label(lab) for lab in labels], rotation=20, ha="right")
    ax.set_ylabel("gain over baseline (%)")
    ax.legend(title="phase", frameon=False)
    ax.grid(axis="y", alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def breakdown_kinds(study):
    """The op kinds of breakdown_s.<kind>: compute kinds by name, then communication kinds by name."""
    kinds = sorted(k[len("breakdown_s."):] for k in study.metrics if k.startswith("breakdown_s."))
    return [k for k in kinds if not study.is_comm_kind(k)] + [k for k in kinds if study.is_comm_kind(k)]


def section_breakdown(doc, study):
    doc.heading(2, "3. Step-time breakdowns", "breakdown")
    labels = proposal_labels(study)
    kinds = breakdown_kinds(study)
    if not labels or not kinds:
        doc.missing("no `breakdown_s.<op kind>` metrics for the proposal points in results.h5 (the step simulator "
                    f"writes them for every point). Run {STUDY_HINT}.")
        return
    phases = study_phases(study)
    doc.para("Where the step goes, per GPU. The wide bar is the compute stream: time per compute op kind (the "
             "simulator's `breakdown_s.<kind>`), then the time it waits on communication (`exposed_comm_s`) and the "
             "pipeline bubble (`bubble_s`); the black tick marks the step time. The thin bar under it is the "
             "communication stream's busy time per kind, which overlaps the compute stream except where it is "
             "exposed.")
    doc.figure(breakdown_figure(study, labels, phases, kinds), "step-breakdown",
               "Step-time breakdown per proposal and phase: compute stream (wide) and communication stream (thin).")
    for p in phases:
        breakdown_table(doc, study, labels, p, kinds)
    memory_section(doc, study, labels, phases)


MEMORY_PARTS = ("weights", "gradients", "optimizer", "activations", "kv_cache")


def memory_values(study, label, phase):
    """{part: bytes, "total", "capacity"} of one proposal point (NaN where absent or failed), or None without a
    point. The total is the simulator's, or the sum of the parts it reports."""
    i = proposal_point(study, label, phase)
    if i is None or not (study.ok(i) or study.infeasible(i)):  # an infeasible point keeps its metrics
        return None
    v = {part: study.metric(f"memory_per_gpu_bytes.{part}", i) for part in MEMORY_PARTS}
    total = study.metric("memory_per_gpu_bytes.total", i)
    parts = [x for x in v.values() if finite(x)]
    v["total"] = total if finite(total) else (sum(parts) if parts else float("nan"))
    v["capacity"] = study.metric("memory_capacity_bytes", i)
    return v


def over_capacity(study, labels, phases):
    """[(label, phase, total, capacity)] of the proposal points that need more memory than the GPU has."""
    out = []
    for p in phases:
        for lab in labels:
            v = memory_values(study, lab, p)
            if v and finite(v["total"]) and finite(v["capacity"]) and v["total"] > v["capacity"]:
                out.append((lab, p, v["total"], v["capacity"]))
    return out


def memory_section(doc, study, labels, phases):
    doc.heading(3, "Memory per GPU")
    if not any(k.startswith("memory_per_gpu_bytes.") for k in study.metrics):
        doc.missing("no `memory_per_gpu_bytes.<part>` metrics in results.h5 (the step simulator writes them for "
                    f"every point). Run {STUDY_HINT}.")
        return
    gib = 1024.0 ** 3
    doc.para("Memory per GPU of the most loaded pipeline rank, in GiB (the simulator's `memory_per_gpu_bytes.<part>`), "
             "against the GPU's capacity (`memory_capacity_bytes`). A point over its capacity could not run as "
             "simulated: its step time assumes memory the GPU does not have.")
    for p in phases:
        values = {lab: memory_values(study, lab, p) for lab in labels}
        rows = []
        for part in MEMORY_PARTS + ("total", "capacity"):
            cells = [num(v[part] / gib) if v and finite(v[part]) else DASH for v in values.values()]
            if part in MEMORY_PARTS and all(c == DASH for c in cells):
                continue
            rows.append([part] + cells)
        rows.append(["fits"] + [DASH if not v or not (finite(v["total"]) and finite(v["capacity"])) else
                                ("yes" if v["total"] <= v["capacity"] else "no") for v in values.values()])
        doc.heading(3, f"{p} memory (GiB per GPU)")
        doc.table(f"table-memory-{p}", ["part"] + [display_label(lab) for lab in labels], rows)
    if not any(k == "memory_capacity_bytes" for k in study.metrics):
        doc.para("Capacity unknown: add `memory_capacity_bytes` to the study's `metrics`.")
        return
    doc.figure(memory_figure(study, phases), "memory-capacity",
               "Peak memory per GPU against the GPU's capacity, per phase and point (proposals, then sweep points "
               "by their value): a red bar needs more memory than its GPU has, and the point is infeasible.")
    over = over_capacity(study, labels, phases)
    if over:
        doc.para("Over the GPU's memory: " + "; ".join(
            f"`{lab}` ({p}): {num(t / gib)} of {num(c / gib)} GiB" for lab, p, t, c in over) + ".")
    else:
        doc.para("Every proposal point fits the GPU's memory.")


def value_text(value):
    """A sweep value for a label: a byte count written out in bytes ('84943110144B') in GiB."""
    m = re.fullmatch(r"(\d{7,})B", str(value))
    return f"{int(m.group(1)) / 1024 ** 3:.1f}GiB" if m else str(value)


def memory_figure(study, phases):
    """Peak memory per GPU (bars) against capacity (ticks) of every point that reports both, one panel per phase."""
    gib = 1024.0 ** 3
    panels = []
    for p in phases:
        rows = []
        for i in study.indices(phase=p):
            if not (study.ok(i) or study.infeasible(i)):
                continue
            peak = study.metric("memory_per_gpu_bytes.total", i) / gib
            cap = study.metric("memory_capacity_bytes", i) / gib
            if finite(peak) and finite(cap):
                g = study.points["group"][i]
                name = (display_label(study.points["label"][i]) if g == "proposals" else
                        f"{g}={value_text(study.points['value'][i])}")
                rows.append((name, peak, cap))
        if rows:
            panels.append((p, rows))
    if not panels:
        fig, ax = plt.subplots(figsize=(6, 1))
        ax.set_axis_off()
        ax.text(0.5, 0.5, "no point reports both its peak memory and its capacity", ha="center")
        return fig
    heights = [len(rows) + 1.5 for _, rows in panels]
    fig, axes = plt.subplots(len(panels), 1, figsize=(8, 0.28 * sum(heights) + 0.6), squeeze=False,
                             gridspec_kw={"height_ratios": heights})
    for ax, (p, rows) in zip(axes.flat, panels):
        y = np.arange(len(rows))[::-1]
        over = [peak > cap for _, peak, cap in rows]
        ax.barh(y, [peak for _, peak, _ in rows], 0.7, color=[("#c0392b" if o else PHASE_COLORS.get(p, "#888"))
                                                                for o in over])
        ax.scatter([cap for _, _, cap in rows], y, marker="|", s=260, color="#111", zorder=3,
                   label="capacity per GPU")
        for yi, (_, peak, cap), o in zip(y, rows, over):
            ax.annotate(f"{peak:.1f}" + (" (over)" if o else ""), (max(peak, cap), yi), xytext=(4, 0),
                        textcoords="offset points", va="center", fontsize=7)
        ax.set_yticks(y, [name for name, _, _ in rows], fontsize=8)
        ax.set_xlabel("GiB per GPU (bar: peak memory; tick: capacity; red: over capacity)")
        ax.set_title(p, fontsize=10, loc="left")
        ax.grid(axis="x", alpha=0.3)
        ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return fig


def breakdown_values(study, label, phase, kinds):
    """{column: seconds} of one proposal point, NaN when it failed or is absent."""
    i = proposal_point(study, label, phase)
    names = [f"breakdown_s.{k}" for k in kinds] + ["exposed_comm_s", "bubble_s", "step_time_s"]
    if i is None or not study.ok(i):
        return {n: float("nan") for n in names}
    return {n: study.metric(n, i) for n in names}


def kind_colors(study, kinds):
    compute = [k for k in kinds if not study.is_comm_kind(k)]
    comm = [k for k in kinds if study.is_comm_kind(k)]
    cool = [c for j, c in enumerate(plt.get_cmap("tab20").colors) if j not in (6, 7)]  # tab20 6, 7: the reds
    warm = plt.get_cmap("Reds")(np.linspace(0.85, 0.35, max(2, len(comm))))
    out = {k: cool[j % len(cool)] for j, k in enumerate(compute)}
    out.update({k: warm[j] for j, k in enumerate(comm)})
    return out


def breakdown_figure(study, labels, phases, kinds):
    width = min(11.5, 3.6 * len(phases) + 1.6)
    fig, axes = plt.subplots(1, len(phases), figsize=(width, 0.5 * len(labels) + 1.9), sharey=True, squeeze=False)
    colors = kind_colors(study, kinds)
    y = np.arange(len(labels))
    for ax, p in zip(axes[0], phases):
        values = [breakdown_values(study, lab, p, kinds) for lab in labels]
        scale, unit = time_unit([v["step_time_s"] for v in values])
        left, comm_left = np.zeros(len(labels)), np.zeros(len(labels))
        stacks = [(f"breakdown_s.{k}", k, colors[k], None) for k in kinds if not study.is_comm_kind(k)]
        stacks += [("exposed_comm_s", "exposed comm", "#c44e52", "////"), ("bubble_s", "bubble", "#c8c8c8", "..")]
        for key, name, color, hatch in stacks:
            w = np.array([v[key] * scale if finite(v[key]) else 0 for v in values])
            ax.barh(y - 0.12, w, height=0.56, left=left, color=color, hatch=hatch, label=name, edgecolor="white",
                    lw=0.4)
            left += w
        for k in [k for k in kinds if study.is_comm_kind(k)]:
            w = np.array([v[f"breakdown_s.{k}"] * scale if finite(v[f"breakdown_s.{k}"]) else 0 for v in values])
            ax.barh(y + 0.3, w, height=0.2, left=comm_left, color=colors[k], label=k, edgecolor="white", lw=0.3)
            comm_left += w
        steps = [v["step_time_s"] * scale for v in values]
        ax.scatter([s if finite(s) else np.nan for s in steps], y - 0.12, marker="|", s=220, color="black", zorder=3,
                   linewidths=1.5)
        for yi, v in zip(y, values):
            if not finite(v["step_time_s"]):
                ax.text(0, yi, " failed or absent", va="center", fontsize=7, color="#777")
        ax.set_title(p, fontsize=10)
        ax.set_xlabel(f"time per step ({unit})")
        ax.grid(axis="x", alpha=0.3)
        ax.spines[["top", "right"]].set_visible(False)
    axes[0][0].set_yticks(y, [display_label(lab) for lab in labels])
    axes[0][0].invert_yaxis()
    handles, names = axes[0][0].get_legend_handles_labels()
    seen = dict(zip(names, handles))
    fig.tight_layout()
    fig.legend(list(seen.values()), list(seen.keys()), loc="upper center", ncol=min(5, len(seen)), frameon=False,
               bbox_to_anchor=(0.5, 0.0), fontsize=8)
    return fig


def breakdown_table(doc, study, labels, phase, kinds):
    """One row per op kind, one column per proposal."""
    values = {lab: breakdown_values(study, lab, phase, kinds) for lab in labels}
    used = [k for k in kinds if any(finite(v[f"breakdown_s.{k}"]) for v in values.values())]
    scale, unit = time_unit([v["step_time_s"] for v in values.values()])
    rows = [["step time"] + [num(v["step_time_s"] * scale, 4) for v in values.values()]]
    for k in used:
        rows.append([k + (" (comm stream)" if study.is_comm_kind(k) else "")] +
                    [num(v[f"breakdown_s.{k}"] * scale) for v in values.values()])
    rows.append(["exposed comm"] + [num(v["exposed_comm_s"] * scale) for v in values.values()])
    rows.append(["bubble"] + [num(v["bubble_s"] * scale) for v in values.values()])
    doc.heading(3, f"{phase} ({unit} per step)")
    doc.table(f"table-breakdown-{phase}", ["op kind"] + [display_label(lab) for lab in labels], rows)


def sweep_groups(study):
    groups = []
    for g in study.points["group"]:
        if g != "proposals" and g not in groups:
            groups.append(g)
    return groups


def is_bandwidth(study, group):
    values = [study.points["value"][i] for i in study.indices(group=group)]
    return "bandwidth" in group or "bw" in group.split("-") or any(v.endswith("B/s") for v in values)


def section_sensitivity(doc, study):
    doc.heading(2, "4. Sensitivity curves", "sensitivity")
    groups = sweep_groups(study)
    if not groups:
        doc.missing("results.h5 holds no sweep (a group other than `proposals`, e.g. `ib-bandwidth` or "
                    f"`nvlink-domain`). The default study sweeps both for decode: {STUDY_HINT}.")
        return
    for g in groups:
        sweep_section(doc, study, g)


def sweep_metrics(study, group, phase):
    idx = [i for i in study.indices(group=group, phase=phase) if study.ok(i) or study.infeasible(i)]
    out = [m for m in study.sweep_metrics(phase) if any(finite(study.metric(m, i)) for i in idx)]
    # Peak memory where the sweep moves it or a point does not fit (a capacity or memory-saving sweep).
    peaks = {study.metric(PEAK_MEMORY, i) for i in idx if finite(study.metric(PEAK_MEMORY, i))}
    if len(peaks) > 1 or (peaks and any(study.infeasible(i) for i in idx)):
        out.append(PEAK_MEMORY)
    return out


PEAK_MEMORY = "memory_per_gpu_bytes.total"


def sweep_axis(study, group):
    """(scale, x label, log) of a sweep's value_num."""
    if is_bandwidth(study, group):
        return 1e-9, f"{group} (GB/s)", True
    xs = [float(study.points["value_num"][i]) for i in study.indices(group=group)
          if finite(study.points["value_num"][i])]
    spread = bool(xs) and min(xs) > 0 and max(xs) / min(xs) >= 8  # 8 .. 320 GPUs: even steps on a log axis
    return 1.0, group, spread


def sweep_section(doc, study, group):
    doc.heading(3, f"Sweep: {group}")
    phases = study_phases(study, group)
    panels = [(p, m) for p in phases for m in sweep_metrics(study, group, p)]
    if not panels:
        doc.missing(f"no point of sweep `{group}` ran successfully, so there is nothing to plot.")
    else:
        doc.figure(sweep_figure(study, group, panels), f"sweep-{slug(group)}",
                   f"Sensitivity to {group}" + (" (log scale)" if sweep_axis(study, group)[2] else "") + ".")
    metrics = [m for m in dict.fromkeys(m for _, m in panels)]
    rows = []
    for i in study.indices(group=group):
        kept = study.ok(i) or study.infeasible(i)  # an infeasible point's metrics are kept
        rows.append([study.points["value"][i], study.points["phase"][i]] +
                    [num(study.metric(m, i) * study.scale(m), 4) if kept else DASH for m in metrics] +
                    ["infeasible (see Failed points)" if study.infeasible(i) else study.points["status"][i]])
    rows.sort(key=lambda r: (r[1], sort_value(study, group, r[0])))
    doc.table(f"table-sweep-{slug(group)}", ["value", "phase"] + [study.label(m) for m in metrics] +
              ["status"], rows, numeric=range(2, 2 + len(metrics)))


def sort_value(study, group, value):
    for i in study.indices(group=group):
        if study.points["value"][i] == value and finite(study.points["value_num"][i]):
            return float(study.points["value_num"][i])
    return 0.0


def sweep_figure(study, group, panels):
    scale, xlabel, log = sweep_axis(study, group)
    cols = min(3, len(panels))
    rows = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.8 * cols + 0.3, 3.3 * rows), squeeze=False)
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    for ax, (p, m) in zip(axes.flat, panels):
        idx = [i for i in study.indices(group=group, phase=p) if study.ok(i) or study.infeasible(i)]
        numeric = all(finite(study.points["value_num"][i]) for i in idx)
        if numeric:  # by value; else categorical, in the order of the study
            idx.sort(key=lambda i: study.points["value_num"][i])
        xs = [study.points["value_num"][i] * scale for i in idx] if numeric else list(range(len(idx)))
        ys = [study.metric(m, i) * study.scale(m) for i in idx]
        ax.plot(xs, ys, marker="o", color=PHASE_COLORS.get(p, "#333"), label=p, ls="-" if numeric else "none")
        bad = [(x, y) for x, y, i in zip(xs, ys, idx) if study.infeasible(i)]
        if bad:  # over memory capacity: hollow, red-edged
            ax.scatter(*zip(*bad), s=40, facecolors="white", edgecolors="#c0392b", zorder=3, label="infeasible")
            ax.legend(frameon=False, fontsize=7)
        if log and numeric and all(x > 0 for x in xs):
            ax.set_xscale("log", base=2)
        long = len(xs) > 5 or not numeric
        ax.set_xticks(xs, [value_text(study.points["value"][i]) for i in idx], rotation=35 if long else 0,
                      ha="right" if long else "center", fontsize=8)
        ax.minorticks_off()
        ax.set_xlabel(xlabel)
        ax.set_title(f"{p}: {study.label(m)}", fontsize=10)
        ax.grid(alpha=0.3)
        ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return fig


def slug(s):
    return re.sub(r"[^a-z0-9]+", "-", s.lower()).strip("-")


def missing_table(doc, study, name, what):
    """The note of a section whose table is absent or unusable: what is wrong and how to produce it."""
    t = study.tables.get(name)
    if t is None:
        found = f"results.h5 has no `/tables/{name}`"
    elif t.error:
        found = f"`/tables/{name}` cannot be used: {t.error}"
    elif t.rows() == 0:
        found = f"`/tables/{name}` has no rows"
    else:
        found = f"`/tables/{name}` lacks what this section needs (it has columns {', '.join(t.columns)})"
    doc.missing(f"{found}; needed: {what}. How to produce it: list `{name}` under `tables:` in the study file (the "
                f"default study does) and run the study again: {STUDY_HINT}.")


REQUIRED = object()


def view(t, spec):
    """Columns of `t` by logical name. spec: logical -> (alternative column names, default); a default of REQUIRED
    makes the column necessary; a callable default is called with the view so far and the row count. Returns
    (view, missing logical names)."""
    out, missing = {}, []
    n = t.rows() if t is not None else 0
    for logical, (names, default) in spec.items():
        col = t.pick(*names) if t is not None else None
        if col is not None:
            out[logical] = t.data[col]
        elif default is REQUIRED:
            missing.append("/".join(names))
        elif callable(default):
            out[logical] = default(out, n)
        else:
            out[logical] = [default] * n
    return out, missing


def section_numerics(doc, study):
    doc.heading(2, "5. FP8 accumulation error against K", "numerics")
    t = study.tables.get("numerics_error_vs_k")
    if not numerics_usable(t):
        missing_table(doc, study, "numerics_error_vs_k", "columns accumulator, k and the errors (mean_rel_error, "
                      "max_rel_error, normwise_error)")
        return
    cols = error_columns(t)
    doc.para(f"{t.title}. Source: {t.source}.")
    accs = list(dict.fromkeys(t.data["accumulator"]))
    doc.figure(numerics_figure(t, accs, cols), "numerics-error-vs-k",
               "Relative error of an FP8 GEMM against the FP64 product of the same quantized inputs, per accumulator.")
    worst_k = max(t.data["k"])
    head = cols[0]
    at_k = [(t.data[head][i], t.data["accumulator"][i]) for i in range(t.rows()) if t.data["k"][i] == worst_k]
    if len(at_k) > 1 and min(at_k)[0] > 0:
        (lo, lo_acc), (hi, hi_acc) = min(at_k), max(at_k)
        doc.para(f"At K = {worst_k:,.0f}: `{hi_acc}` has a {error_label(head)} of {sci(hi)}, "
                 f"{num(hi / lo, 2)}\u00d7 that of `{lo_acc}` ({sci(lo)}).")
    links = [(display_label(lab), accumulator_of(study, lab)) for lab in proposal_labels(study)]
    linked = [f"`{lab}`: {acc}" for lab, acc in links if acc is not None]
    doc.para("How the summary links a proposal to an accumulator: by the table's `proposal` column when it has one; "
             "else by the accumulator whose label holds every word of the proposal's label, or whose distinctive words "
             "(not chip names, not \"tensor core only\") the proposal's label holds; the baseline's is the one "
             "labelled \"baseline\", else \"DeepGEMM\", else \"promotion\" (promotion to FP32 every 128 K, as "
             "DeepSeek-V3 runs its FP8 GEMMs on H800); a combination takes the most accurate of its proposals' "
             "accumulators. Linked: " +
             ("; ".join(linked) if linked else "none") + ".")
    ks = sorted(set(float(k) for k in t.data["k"]))
    value = {(t.data["accumulator"][i], float(t.data["k"][i])): i for i in range(t.rows())}
    for c in cols:
        doc.heading(3, error_label(c).capitalize() + " by K")
        doc.table(f"table-numerics-{slug(c)}", ["K"] + accs,
                  [[f"{k:,.0f}"] + [sci(t.data[c][value[(a, k)]]) if (a, k) in value else DASH for a in accs]
                   for k in ks], numeric=range(len(accs) + 1))


def numerics_figure(t, accs, cols):
    fig, axes = plt.subplots(1, len(cols), figsize=(4.3 * len(cols) + 0.5, 3.9), squeeze=False)
    markers = "osD^vP*X"
    for ax, col in zip(axes[0], cols):
        for j, acc in enumerate(accs):
            idx = sorted((i for i in range(t.rows()) if t.data["accumulator"][i] == acc), key=lambda i: t.data["k"][i])
            ks = [t.data["k"][i] for i in idx]
            ys = [t.data[col][i] if t.data[col][i] > 0 else np.nan for i in idx]
            ax.plot(ks, ys, marker=markers[j % len(markers)], ms=4, label=acc)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ks = sorted(set(float(k) for k in t.data["k"]))
        if 1 < len(ks) <= 12:
            ax.set_xticks(ks, [f"{k / 1024:g}K" if k >= 1024 else f"{k:g}" for k in ks], fontsize=8)
            ax.minorticks_off()
        ax.set_xlabel("K (reduction length)")
        ax.set_title(error_label(col), fontsize=10)
        ax.grid(alpha=0.3)
        ax.spines[["top", "right"]].set_visible(False)
    handles, names = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, names, loc="upper center", ncol=2, frameon=False, bbox_to_anchor=(0.5, 0.0))
    fig.tight_layout()
    return fig


def roofs(study, kernels):
    """(name, peak FLOP/s, HBM B/s) of each chip: the kernels table's attrs, then the `hardware` table's rows."""
    hw_roofs = []
    hw = study.tables.get("hardware")
    if hw is not None and not hw.error and hw.numeric("peak_flops") and hw.numeric("hbm_Bps"):
        names = hw.data.get("name") or hw.data.get("chip") or [f"chip {i}" for i in range(hw.rows())]
        for i in range(hw.rows()):
            roof = (text(names[i]), float(hw.data["peak_flops"][i]), float(hw.data["hbm_Bps"][i]))
            if all(finite(v) and v > 0 for v in roof[1:]) and not any(r[1:] == roof[1:] for r in hw_roofs):
                hw_roofs.append(roof)
    a = kernels.attrs
    if finite(a.get("peak_flops")) and finite(a.get("hbm_Bps")) and a["peak_flops"] > 0 and a["hbm_Bps"] > 0:
        own = (float(a["peak_flops"]), float(a["hbm_Bps"]))
        same = [r for r in hw_roofs if r[1:] == own]
        name = text(a.get("hardware", a.get("chip", same[0][0] if same else "the kernels' chip")))
        return [(name,) + own] + [r for r in hw_roofs if r[1:] != own]
    return hw_roofs


KERNEL_SPEC = {
    "name": (("name", "kernel", "op"), REQUIRED), "flops": (("flops",), REQUIRED), "bytes": (("bytes",), REQUIRED),
    "time_s": (("time_s", "duration_s"), REQUIRED), "phase": (("phase",), "step"), "kind": (("kind",), ""),
    "model": (("model",), ""), "bound": (("bound",), ""), "calls": (("calls",), 1.0),
}


def kernels_view(t):
    if t is None or t.error or t.rows() == 0:
        return None
    v, missing = view(t, KERNEL_SPEC)
    if missing or any(isinstance(v[c], list) for c in ("flops", "bytes", "time_s")):
        return None
    v["n"] = t.rows()
    # Which cost models are closed-form estimates: v3sim says so in the table's attributes (report/study_tables.h).
    v["closed_form"] = tuple(m for m in text(t.attrs.get("closed_form_models", "")).split(",") if m)
    return v


def section_roofline(doc, study):
    doc.heading(2, "6. Roofline of the V3 kernels", "roofline")
    t = study.tables.get("kernels")
    k = kernels_view(t)
    if k is None:
        missing_table(doc, study, "kernels", "columns name, flops, bytes, time_s (and phase, kind, model, bound, "
                      "calls when known)")
        return
    chips = roofs(study, t)
    kept = [i for i in range(k["n"]) if k["model"][i] != "dropped"]
    plotted = [i for i in kept if k["flops"][i] > 0 and k["bytes"][i] > 0 and k["time_s"][i] > 0]
    dropped = k["n"] - len(kept)
    doc.para(f"{t.title}. Achieved FLOP/s = flops / time_s per call, arithmetic intensity = flops / bytes. Filled "
             f"markers: kernels simulated at cycle level; hollow squares: closed-form ({', '.join(k['closed_form'])}) "
             f"estimates. {len(kept) - len(plotted)} kernels without FLOPs (communication, copies) are listed but not "
             f"plotted" + (f"; {dropped} dropped from the step model are left out." if dropped else "."))
    if not chips:
        doc.missing("no roofs to draw: neither `peak_flops`/`hbm_Bps` attributes on `/tables/kernels` nor a "
                    "`hardware` table with `peak_flops` and `hbm_Bps` columns.")
    if plotted:
        doc.figure(roofline_figure(k, plotted, chips), "roofline", "Achieved FLOP/s against arithmetic intensity, "
                   "with the chip's compute and HBM roofs; marker area is the kernel's share of its phase's kernel "
                   "time.")
    roofline_tables(doc, k, kept, chips)


def kernel_total(k, i):
    return k["time_s"][i] * max(1.0, k["calls"][i]) if finite(k["calls"][i]) else k["time_s"][i]


def roofline_figure(k, plotted, chips):
    fig, ax = plt.subplots(figsize=(10.5, 5.6))
    ai = np.array([k["flops"][i] / k["bytes"][i] for i in plotted])
    perf = np.array([k["flops"][i] / k["time_s"][i] for i in plotted])
    lo = min([0.5] + list(ai / 2))
    hi = max([2e4] + list(ai * 2))
    xs = np.logspace(math.log10(lo), math.log10(hi), 200)
    for j, (name, peak, bw) in enumerate(chips):
        ax.plot(xs, np.minimum(peak, bw * xs), color="#333", lw=1.4 if j == 0 else 1, ls="-" if j == 0 else "--",
                label=f"{name} roof ({num(peak / 1e12)} TFLOP/s, {num(bw / 1e12)} TB/s)")
    phase_total = {}
    for i in plotted:
        phase_total[k["phase"][i]] = phase_total.get(k["phase"][i], 0) + kernel_total(k, i)
    share = np.array([kernel_total(k, i) / phase_total[k["phase"][i]] if phase_total[k["phase"][i]] > 0 else 0
                      for i in plotted])
    closed = np.array([k["model"][i] in k["closed_form"] for i in plotted])
    for p in phase_total:
        color = PHASE_COLORS.get(p, "#555")
        mine = np.array([k["phase"][i] == p for i in plotted])
        for is_closed in (False, True):
            sel = mine & (closed == is_closed)
            if sel.any():
                ax.scatter(ai[sel], perf[sel], s=25 + 600 * share[sel], marker="s" if is_closed else "o", alpha=0.85,
                           facecolors="none" if is_closed else color, edgecolors=color, linewidths=1.3)
    labelled = []  # (log10 x, log10 y) of the labels placed so far: a label runs about a decade to the right
    for j in sorted(range(len(plotted)), key=lambda j: -share[j]):
        at = (math.log10(ai[j]), math.log10(perf[j]))
        if share[j] > 0.12 and all(abs(at[0] - x) > 0.9 or abs(at[1] - y) > 0.25 for x, y in labelled):
            labelled.append(at)
            ax.annotate(k["name"][plotted[j]], (ai[j], perf[j]), fontsize=7, xytext=(6, -3),
                        textcoords="offset points")
    for p in phase_total:
        ax.scatter([], [], color=PHASE_COLORS.get(p, "#555"), label=f"{p} (cycle model)")
    if any(k["model"][i] in k["closed_form"] for i in plotted):
        ax.scatter([], [], marker="s", facecolors="none", edgecolors="#555", label="closed-form estimate")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("arithmetic intensity (FLOP/byte)")
    ax.set_ylabel("achieved FLOP/s")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, frameon=False, loc="lower right")
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def roofline_tables(doc, k, kept, chips, top=10):
    peak = chips[0][1] if chips else float("nan")
    present = list(dict.fromkeys(k["phase"][i] for i in kept))
    for p in [p for p in PHASES if p in present] + [p for p in present if p not in PHASES]:
        idx = sorted((i for i in kept if k["phase"][i] == p), key=lambda i: -kernel_total(k, i))
        total = sum(kernel_total(k, i) for i in idx)
        doc.heading(3, f"{p}: top kernels by time" + (f" ({top} of {len(idx)})" if len(idx) > top else ""))
        rows = []
        for i in idx[:top]:
            flops, bytes_, time = k["flops"][i], k["bytes"][i], k["time_s"][i]
            rate = flops / time if time > 0 else float("nan")
            rows.append([k["name"][i], k["kind"][i] or DASH, k["model"][i] or DASH, k["bound"][i] or DASH,
                         num(flops / bytes_) if bytes_ > 0 else DASH, num(rate / 1e12) if flops > 0 else DASH,
                         pct_plain(100 * rate / peak) if flops > 0 else DASH, num(time * 1e6), num(k["calls"][i]),
                         pct_plain(100 * kernel_total(k, i) / total) if total > 0 else DASH])
        doc.table(f"table-kernels-{slug(p)}", ["kernel", "kind", "model", "bound", "FLOP/B", "TFLOP/s", "of peak",
                                               "time/call (\u00b5s)", "calls", "share"], rows, numeric=range(4, 10))


def pct_plain(x):
    return f"{x:.1f}%" if finite(x) else DASH


def validation_view(t):
    """The validation table by logical column (suite, case, measured, projected, unit, error_pct, source, model,
    role, fit_projected, fit_error_pct), filling in what a minimal or older table leaves out (role `unknown`, no
    model, no in-sample figures); None when it cannot be used."""
    if t is None or t.error or t.rows() == 0:
        return None
    measured = t.pick("measured")

    def rel_error(projected):
        return lambda v, n: [100.0 * (v[projected][i] - v["measured"][i]) / v["measured"][i]
                             if finite(v["measured"][i]) and v["measured"][i] != 0 and finite(v[projected][i])
                             else float("nan") for i in range(n)]

    spec = {
        "case": (("case", "name"), REQUIRED), "measured": (("measured",), REQUIRED),
        "projected": (("projected",), REQUIRED), "suite": (("suite",), t.name),
        "unit": (("unit",), t.units.get(measured, "") if measured else ""),
        "error_pct": (("error_pct",), rel_error("projected")),
        "source": (("source",), t.source or DASH),
        "model": (("model",), ""), "role": (("role",), "unknown"),
        "fit_projected": (("fit_projected",), float("nan")),
        "fit_error_pct": (("fit_error_pct",), rel_error("fit_projected")),
    }
    v, missing = view(t, spec)
    if missing or any(not t.numeric(c) for c in ("measured", "projected")) or \
            any(t.has(c) and not t.numeric(c) for c in ("fit_projected", "fit_error_pct", "error_pct")):
        return None
    return v


def section_validation(doc, study, traces, ev):
    doc.heading(2, "7. Validation: projected against measured", "validation")
    t = study.tables.get("validation")
    v = validation_view(t)
    if v is None:
        missing_table(doc, study, "validation", "columns case, measured, projected (and suite, unit, error_pct, "
                      "source, model, role, fit_projected, fit_error_pct)")
    else:
        doc.para(f"{t.title}. Every measured datum has one role: **fitted** (the constants of the cost model it "
                 "checks were fitted on it) or **predicted** (it informed none). Only out-of-sample figures count "
                 "as validation: a predicted datum's projection, and a fitted datum's cross-validated projection "
                 "(the model refitted without it). The in-sample figures of fitted data are fit residuals, listed "
                 "apart: they say how well the fit went, not how well the model predicts. "
                 "error = (projected \u2212 measured) / measured; MAPE: mean |error|.")
        if t.attrs.get("cross_validation"):
            doc.para(f"Cross-validation: {text(t.attrs['cross_validation'])}.")
        if not ev.roles_known:
            doc.para("The validation table has no `role` column (written by an older v3sim), so its rows cannot be "
                     "told apart as fitted or predicted: none counts as out of sample, and they are listed below "
                     "with the fit residuals as of unknown role. Run the study again to get the roles: "
                     f"{STUDY_HINT}.")
    model_trust_table(doc, study, ev)
    doc.heading(3, "Validation (out of sample)")
    out = [d for d in ev.data if d.out_of_sample()]
    if not out:
        why = ("the validation table says no row's role" if v is not None and not ev.roles_known else
               "no predicted datum and no cross-validated figure of a fitted one" if v is not None or ev.data else
               "no validation table and no comparison of a measured trace that names its cost models and role")
        doc.para(f"No out-of-sample figure: {why}. Every cost model is unvalidated.")
    else:
        validation_summary(doc, out, "table-validation-summary")
        doc.figure(validation_figure(ev.data), "validation", "Projected against measured, per suite: out of sample "
                   "(filled) and fit residuals (hollow); the band is \u00b110%.")
        doc.table("table-validation", ["suite", "case", "model", "role", "measured", "projected", "unit", "error"],
                  [[d.suite, d.case, ", ".join(d.models) or DASH,
                    "cross-validated" if d.role == "fitted" else d.role, num(d.measured, 4), num(d.projected, 4),
                    d.unit or DASH, pct(d.error_pct)] for d in out], numeric=[4, 5, 7])
    doc.heading(3, "Fit residuals")
    res = [d for d in ev.data if d.residual() is not None]
    if not res:
        doc.para("No fit residual: no datum is marked fitted.")
    else:
        mape = sum(abs(d.residual()[1]) for d in res) / len(res)
        doc.para(f"{len(res)} in-sample figures (mean |error| {pct_plain(mape)}): the projections of data the "
                 "models' constants were fitted on, or of rows whose role the table does not say. They are not "
                 "evidence of how well a model predicts; the out-of-sample column repeats the cross-validated "
                 "figure of the same datum where there is one.")
        doc.table("table-fit-residuals", ["suite", "case", "model", "role", "measured", "projected (in sample)",
                                          "unit", "error (in sample)", "error (out of sample)"],
                  [[d.suite, d.case, ", ".join(d.models) or DASH, d.role, num(d.measured, 4),
                    num(d.residual()[0], 4), d.unit or DASH, pct(d.residual()[1]),
                    pct(d.error_pct) if d.out_of_sample() else DASH] for d in res], numeric=[4, 5, 7, 8])
    if ev.comparisons_unusable:
        doc.para(f"{ev.comparisons_unusable} categor{'ies' if ev.comparisons_unusable != 1 else 'y'} of "
                 "comparisons.json name no cost models or role (written by an older v3sim): shown in section 8 "
                 "only, they count for no model.")
    sources = list(dict.fromkeys((d.suite, d.source) for d in ev.data if d.source))
    if sources:
        doc.para("Sources:")
        doc.bullets(f"`{s}`: {src}" for s, src in sources)
    doc.heading(3, "Measured traces")
    trace_section(doc, traces, t, ev)


def model_trust_table(doc, study, ev):
    """Per cost model: the roles of its data, and its out-of-sample record (or "unvalidated")."""
    doc.heading(3, "Per cost model")
    if not ev.stats:
        doc.para("No cost model is named by the study's metrics (`model_s.<model>`) or by any datum.")
        return
    doc.para("A model with no out-of-sample datum is unvalidated: the share of a gain it prices has no error "
             "estimate (section 1). A datum that measures the ops of several models (a category of a measured "
             "trace) counts for each of them.")
    rows = []
    for m, s in ev.stats.items():
        roles = ", ".join(f"{n} {r}" for r, n in s.roles.items() if n) or "none"
        w = s.worst
        priced = study.metrics.get(MODEL_PREFIX + m)
        idle = priced is not None and not s.roles_total and not np.any(np.nan_to_num(priced) != 0)
        rows.append([m, roles, str(s.n), pct_plain(s.mape) if s.validated else DASH,
                     f"{w.suite} `{w.case}` {pct(w.error_pct)}" if w else DASH,
                     "validated out of sample" if s.validated else
                     "prices no time in this study" if idle else "unvalidated"])
    doc.table("table-model-trust", ["cost model", "its data (role)", "out of sample (n)", "MAPE", "worst",
                                    "status"], rows, numeric=[2, 3])


def validation_summary(doc, data, tid):
    suites = list(dict.fromkeys(d.suite for d in data))
    rows = []
    for s in suites:
        mine = [d for d in data if d.suite == s]
        worst = max(mine, key=lambda d: abs(d.error_pct))
        mape = sum(abs(d.error_pct) for d in mine) / len(mine)
        models = ", ".join(dict.fromkeys(m for d in mine for m in d.models)) or DASH
        roles = ", ".join(dict.fromkeys("cross-validated" if d.role == "fitted" else d.role for d in mine))
        rows.append([s, models, roles, mine[0].unit or DASH, str(len(mine)), pct_plain(mape), worst.case,
                     pct(worst.error_pct)])
    doc.table(tid, ["suite", "model", "figures", "unit", "cases", "MAPE", "worst case", "worst error"], rows,
              numeric=[4, 5, 7])


def validation_figure(data):
    suites = list(dict.fromkeys(d.suite for d in data if d.out_of_sample() or d.residual() is not None))
    fig, axes = plt.subplots(1, len(suites), figsize=(4.4 * len(suites) + 0.4, 4.0), squeeze=False)
    for ax, s in zip(axes[0], suites):
        mine = [d for d in data if d.suite == s]
        oos = [(d.measured, d.projected) for d in mine if d.out_of_sample()]
        ins = [(d.measured, d.residual()[0]) for d in mine if d.residual() is not None]
        pts = [(m, p) for m, p in oos + ins if finite(m) and finite(p) and m > 0 and p > 0]
        if pts:
            lo = min(min(m, p) for m, p in pts) / 1.3
            hi = max(max(m, p) for m, p in pts) * 1.3
            xs = np.array([lo, hi])
            ax.fill_between(xs, xs * 0.9, xs * 1.1, color="#dddddd", label="\u00b110%")
            ax.plot(xs, xs, color="#333", lw=0.8)
            for group, style in ((oos, {"color": "#4c72b0", "label": "out of sample"}),
                                 (ins, {"facecolors": "none", "edgecolors": "#888", "label": "fit residual"})):
                good = [(m, p) for m, p in group if finite(m) and finite(p) and m > 0 and p > 0]
                if good:
                    ax.scatter([m for m, _ in good], [p for _, p in good], zorder=3, s=18, **style)
            if hi / lo > 10:  # values over decades: log axes, ticks at 1, 2, 5 x 10^n
                ax.set_xscale("log")
                ax.set_yscale("log")
                for axis in (ax.xaxis, ax.yaxis):
                    axis.set_major_locator(matplotlib.ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
                    axis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda x, _: f"{x:g}"))
                    axis.set_minor_formatter(matplotlib.ticker.NullFormatter())
            else:
                for axis in (ax.xaxis, ax.yaxis):
                    axis.set_major_locator(matplotlib.ticker.MaxNLocator(5))
            ax.set_xlim(lo, hi)
            ax.set_ylim(lo, hi)
            ax.set_aspect("equal")
            ax.legend(frameon=False, fontsize=7, loc="upper left")
        unit = mine[0].unit if mine else ""
        ax.set_xlabel(f"measured ({unit})" if unit else "measured")
        ax.set_ylabel(f"projected ({unit})" if unit else "projected")
        ax.set_title(s, fontsize=10)
        ax.grid(alpha=0.3)
        ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return fig


def trace_section(doc, traces, validation, ev):
    if traces is None:
        doc.missing("no measured traces given. Record them on a GPU with `v3sim measure ... -o traces/NAME.h5` "
                    "(scripts/device-check.sh does) or convert DeepSeek's published tables with "
                    "`scripts/make-published-traces.sh` (into traces/published/), then pass `--traces traces`.")
        return
    if not traces:
        doc.missing("the --traces folder holds no .h5 files. Record one on a GPU with `v3sim measure ... -o "
                    "traces/NAME.h5` (scripts/device-check.sh does).")
        return
    rows = []
    for tr in traces:
        m = tr.meta
        total = sum(op[2] for op in tr.ops)
        rows.append([trace_name(tr), m.get("timeline_source", DASH) if not tr.error else DASH,
                     m.get("gpu", "") or DASH, str(len(tr.ops)) if not tr.error else DASH,
                     num(total * 1e3) if tr.ops else DASH, m.get("git_revision", DASH), m.get("created_utc", DASH),
                     tr.error or m.get("provenance", "") or m.get("command_line", DASH)])
    doc.table("table-traces", ["file", "source", "GPU", "ops", "total (ms)", "revision", "created (UTC)",
                               "provenance / command"], rows, numeric=[3, 4])
    matches = ev.trace_rows
    if not matches:
        doc.para("No op of a measured trace matches a projected case of the validation table (matched by the GEMM "
                 "shape m, n, k in the op name), so no error is computed for the traces.")
        return
    same = sum(1 for r in matches if r["same_as"])
    counted = sum(1 for r in matches if r["datum"] is not None)
    against = ("out-of-sample projection" if ev.roles_known else
               "projection (the table does not say whether in sample: an older v3sim)")
    doc.para("Ops of the measured traces that match a GEMM of the validation table, in TFLOPS, against that case's "
             f"{against} (error = (projected \u2212 measured) / measured). An op whose measured figure "
             f"is the validation row's (within {100 * SAME_DATUM:g}%: a conversion of the same published table) is "
             "that datum again and is not counted a second time; a trace taken on another chip than the one "
             f"projected is shown but not counted. {same} of {len(matches)} are the validation table's own data; "
             f"{counted} count as further out-of-sample data.")
    doc.table("table-trace-vs-projected", ["trace", "GPU", "case", "measured", "projected", "error", "same chip",
                                           "counted"],
              [[r["trace"], r["gpu"] or DASH, r["case"], num(r["measured"], 4), num(r["projected"], 4),
                pct(r["error_pct"]), "yes" if r["chip_ok"] else "no", r["counted"]] for r in matches],
              numeric=[3, 4, 5])


def trace_name(tr):
    return tr.name or os.path.basename(tr.path)


def case_key(name):
    """'gemm:m=64,n=2112,k=7168' and 'm=64 n=2112 k=7168' both give (('k','7168'),('m','64'),('n','2112'))."""
    body = name.split(":", 1)[1] if ":" in name else name
    pairs = re.findall(r"([a-z_]+)=([0-9]+)", body)
    return tuple(sorted(pairs)) if pairs else None


def chips_in(s):
    """Chip names in a text: 'NVIDIA H800 SXM5' -> {'H800'}."""
    return set(re.findall(rf"\b({CHIP_NAME})\b", s or ""))


def trace_matches(traces, validation, vdata):
    """Each op of a measured trace whose GEMM shape is a TFLOPS case of the validation table (vdata: its rows as
    data): dicts of trace, gpu, case, measured, projected (the case's out-of-sample projection, TFLOPS), error_pct,
    chip_ok (the trace's GPU is the chip the table projects, when the table's title or source names one), same_as
    (the validation datum the op repeats, or None), counted (why it counts or not) and datum (a further
    out-of-sample datum, or None)."""
    v = validation_view(validation)
    if v is None or not traces:
        return []
    projected = {}
    for d in vdata:
        key = case_key(d.case)
        if key and d.unit.upper().replace(" ", "") in ("TFLOPS", "TFLOP/S"):
            projected.setdefault(key, d)
    table_chips = chips_in(validation.title) | chips_in(validation.source) | \
        set().union(*[chips_in(s) for s in dict.fromkeys(v["source"])])
    rows = []
    for tr in traces:
        if tr.error or tr.meta.get("timeline_source") != "measured":
            continue
        gpu = text(tr.meta.get("gpu", ""))
        chip_ok = not table_chips or not chips_in(gpu) or bool(chips_in(gpu) & table_chips)
        for name, _, dur, flops in tr.ops:
            d = projected.get(case_key(name))
            if not d or dur <= 0 or flops <= 0:
                continue
            measured = flops / dur / 1e12
            err = 100 * (d.projected - measured) / measured if finite(d.projected) else float("nan")
            same = chip_ok and finite(d.measured) and abs(measured / d.measured - 1) <= SAME_DATUM
            datum = None
            if not chip_ok:
                counted = "no: another chip"
            elif same:
                counted = f"no: the validation datum `{d.suite}` `{d.case}`"
            elif d.role not in ROLES:
                counted = "no: the validation row's role is unknown"
            elif not finite(err):
                counted = "no: no out-of-sample projection of this case"
            else:
                counted = "yes"
                datum = Datum("trace", f"trace {trace_name(tr)}", d.case, d.models, d.role, measured, "TFLOPS",
                              d.projected, err, source=f"`{trace_name(tr)}` ({gpu or 'unnamed GPU'})")
            rows.append({"trace": trace_name(tr), "gpu": gpu, "case": d.case, "measured": measured,
                         "projected": d.projected, "error_pct": err, "chip_ok": chip_ok,
                         "same_as": d if same else None, "counted": counted, "datum": datum})
    return rows


# ---------------------------------------------------------------------------------------------------------------
# Against measured traces

COMPARISONS_FORMAT = "v3sim-comparisons-1"


def load_comparisons(path):
    """comparisons.json as `v3sim study` writes it: None when there is none, else its list of comparisons."""
    if not path or not os.path.exists(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError) as exc:
        raise ReportError(f"--comparisons {path}: not a readable JSON file ({exc})") from exc
    if not isinstance(doc, dict) or doc.get("format") != COMPARISONS_FORMAT or \
            not isinstance(doc.get("comparisons"), list):
        raise ReportError(f"--comparisons {path}: not a v3sim comparisons file (format "
                          f"'{doc.get('format', 'missing') if isinstance(doc, dict) else 'missing'}', "
                          f"expected '{COMPARISONS_FORMAT}')")
    return doc["comparisons"]


def ms_cell(x):
    return f"{x:.2f}" if finite(x) else DASH


def section_comparisons(doc, comparisons):
    doc.heading(2, "8. Against measured traces", "comparisons")
    if comparisons is None:
        doc.missing("no comparisons. `v3sim study` compares every measured trace of traces/measured/ that names the "
                    "deployment it was measured on (`v3sim import TRACE.json --deploy NAME -o traces/measured/X.h5`) "
                    "with that deployment's step projection and writes comparisons.json next to results.h5; "
                    "`v3sim compare traces/measured/X.h5` shows one, with every table.")
        return
    if not comparisons:
        doc.missing("no measured trace in traces/measured/ names its deployment (`v3sim import TRACE.json --deploy "
                    "NAME -o traces/measured/X.h5` records it).")
        return
    doc.para("Each measured profile against the projection of the same work (`v3sim step` on the deployment it was "
             "measured on), per category of kernels, in milliseconds per layer (the trace's and the projection's "
             "own layers). The compute rows count the compute streams; communication counts the communication "
             "stream, including the time its kernels wait for their peers. error = (projected \u2212 measured) / "
             "measured.")
    for c in comparisons:
        title = f"`{c.get('trace', '?')}`"
        if c.get("error"):
            doc.heading(3, c.get("trace", "?"))
            doc.missing(f"{title} could not be compared: {c['error']}")
            continue
        doc.heading(3, f"{c.get('trace', '?')} against {c.get('deployment', '?')}")
        doc.para(f"{title}, measured on {c.get('gpu') or 'an unnamed GPU'} ({c.get('measured_layers', '?')} layers), "
                 f"against `{c.get('deployment', '?')}` on {c.get('hardware', '?')} x {c.get('cluster', '?')} "
                 f"({c.get('projected_layers', '?')} layers). Command: `{c.get('command', 'v3sim compare')}`.")
        rows = []
        cats = c.get("categories", [])
        trust = any("models" in r or "role" in r for r in cats)
        for r in cats:
            err = r.get("error")
            row = [r.get("name", "?"), r.get("label", "").strip(), ms_cell(r.get("measured_ms")),
                   ms_cell(r.get("projected_ms")), pct(100 * err) if finite(err) else DASH]
            if trust:
                row += [", ".join(r.get("models") or []) or DASH, r.get("role") or DASH]
            rows.append(row)
        doc.table("table-comparison-" + slug(c.get("trace", "trace")),
                  ["category", "what", "measured (ms/layer)", "projected (ms/layer)", "error"] +
                  (["cost models", "role"] if trust else []), rows, numeric=[2, 3, 4])
        if trust:
            doc.para("The finest categories that name their cost models are data of section 7: out of sample when "
                     f"predicted; fit residuals when fitted on ({', '.join(AGGREGATE_CATEGORIES)} total finer "
                     "categories and are not counted again).")
        notes = c.get("notes") or []
        if notes:
            doc.bullets(notes)


# ---------------------------------------------------------------------------------------------------------------
# Main

SECTIONS = (("summary", "1. Summary"), ("gain", "2. Per-proposal gain for each phase"),
            ("breakdown", "3. Step-time breakdowns"), ("sensitivity", "4. Sensitivity curves"),
            ("numerics", "5. FP8 accumulation error against K"), ("roofline", "6. Roofline of the V3 kernels"),
            ("validation", "7. Validation: projected against measured"),
            ("comparisons", "8. Against measured traces"))


def build(study, traces, outdir, comparisons=None):
    global plt  # imported here, once the inputs are known good: an input error is reported without its cost
    import matplotlib.pyplot as plt  # noqa: E402
    import matplotlib.ticker  # noqa: E402,F401 - used as matplotlib.ticker

    plt.rcParams.update({"svg.fonttype": "none", "svg.hashsalt": "v3sim", "font.size": 10,
                         "axes.titlesize": 10, "figure.dpi": 100})
    doc = Doc(outdir)
    ev = gather_evidence(study, traces, comparisons)
    section_summary(doc, study, traces, ev)
    section_gain(doc, study, ev)
    section_breakdown(doc, study)
    section_sensitivity(doc, study)
    section_numerics(doc, study)
    section_roofline(doc, study)
    section_validation(doc, study, traces, ev)
    section_comparisons(doc, comparisons)
    return doc


def write_atomically(path, content):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(content)
    os.replace(tmp, path)


def main(argv):
    ap = argparse.ArgumentParser(description="Chip-proposal report (Markdown + self-contained HTML) of a v3sim study.")
    ap.add_argument("results", help="the study's results.h5")
    ap.add_argument("-o", "--output", required=True, help="output folder (report.md, report.html, figures/)")
    ap.add_argument("--traces", help="folder of measured traces (v3sim result .h5 files, searched recursively)")
    ap.add_argument("--comparisons", help="measured traces against the step projection (comparisons.json of "
                    "`v3sim study`; default: comparisons.json next to RESULTS_H5, when there is one)")
    a = ap.parse_args(argv)
    try:
        study = load_study(a.results)
        traces = load_traces(a.traces)
        if a.comparisons and not os.path.exists(a.comparisons):
            raise ReportError(f"--comparisons {a.comparisons}: no such file")
        comparisons = load_comparisons(a.comparisons or
                                       os.path.join(os.path.dirname(os.path.abspath(a.results)), "comparisons.json"))
        try:
            os.makedirs(a.output, exist_ok=True)
        except OSError as exc:
            raise ReportError(f"-o {a.output}: cannot create the output folder ({exc.strerror})") from exc
        doc = build(study, traces, a.output, comparisons)
        title = f"Chip proposal report: {study.attrs.get('study', os.path.basename(a.results))}"
        write_atomically(os.path.join(a.output, "report.md"), render_markdown(doc, title))
        write_atomically(os.path.join(a.output, "report.html"), render_html(doc, title, SECTIONS))
    except ReportError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    except Exception:  # noqa: BLE001 - a bug of ours: say so, with the traceback, and exit 3
        sys.stderr.write("internal error (a bug in scripts/report.py):\n" + traceback.format_exc())
        return 3
    print(f"wrote {os.path.join(a.output, 'report.html')}, report.md and {len(doc.figures)} figures")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
