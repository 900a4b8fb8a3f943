#!/usr/bin/python3
"""Writes a synthetic study result (results.h5, format v3sim-study-1) with plausible values in every group the
report reads, for the tests of scripts/report.py. Not a simulation: the numbers are made up to look like a
DeepSeek-V3 proposal study on H800 (a ~20 s training step, ~1 s prefill, ~25 ms decode).

    make_fake_study.py OUT.h5 [--minimal] [--old-style] [--traces DIR] [--registry REGISTRY.json]

--minimal writes the points and metrics only (no /tables, no sweeps, one failed point), to check that every
section of the report still appears and says what is missing. --old-style writes what an older v3sim wrote: a
validation table without the model, role and in-sample columns, and no model_s.<cost model> metrics. --traces DIR
also writes v3sim result files (format v3sim-result-1) there, like those under traces/: measured GEMMs on an H200,
the validation table's own H800 figures (published/), a further H800 measurement, and a projected one. --registry takes v3sim's
metric registry (`v3sim describe metrics --json`): each metric's dataset gets the attributes v3sim gives it, and a
metric of the registry that a sensitivity curve draws but these made-up points lack gets made-up values too (so a
metric added to the registry shows in the report of this fake study as in a real one). When the registry file also
holds v3sim's table schemas (`v3sim describe tables --json`, under "tables"), the tables it declares (kernels,
hardware) take their columns, units, descriptions and attributes from it, in its order.
"""
import json
import argparse
import math
import os
import sys

import h5py
import numpy as np

PHASES = ("train", "prefill", "decode")
# proposal -> speed-up factor per op kind ("comm": the communication kinds; a kind not named keeps its time); made up
# but in plausible proportion. Each proposal moves the time of different cost models (MODEL_OF): fp32-accumulation
# and block-scaled-mma only the GEMMs (cycle-gemm), faster-attention only attention (roofline), tma-fp8-cast drops
# most casts but slows the GEMMs that now load BF16 (a near wash), unified-network only communication.
COMPUTE_KINDS = ("gemm", "grouped_gemm", "attention", "elementwise", "cast")
PROPOSALS = {
    "baseline": {},
    "fp32-accumulation": {"gemm": 1.03, "grouped_gemm": 1.03},
    "block-scaled-mma": {"gemm": 1.06, "grouped_gemm": 1.06},
    "transposed-fp8-smem-reads": {"cast": 1.5, "gemm": 1.01, "grouped_gemm": 1.01},
    "tma-fp8-cast": {"cast": 3.0, "gemm": 0.971, "grouped_gemm": 0.971},
    "faster-attention": {"attention": 1.2},
    "comm-coprocessor": dict(dict.fromkeys(COMPUTE_KINDS, 1.05), comm=1.15),
    "unified-network": {"comm": 1.60},
    "all-proposals": dict(dict.fromkeys(COMPUTE_KINDS, 1.18), comm=1.85),
}
# The cost model (sim/exec/op_cost.h) that prices each op kind's time: the model_s.<model> metrics. Analytical: the
# DP/PP traffic, a twentieth of the all-to-all's time.
MODEL_OF = {"gemm": "cycle-gemm", "grouped_gemm": "cycle-gemm", "cast": "cycle-cast", "attention": "roofline",
            "elementwise": "streaming", "all_to_all_dispatch": "cycle-alltoall",
            "all_to_all_combine": "cycle-alltoall"}
COST_MODELS = ("cycle-gemm", "cycle-cast", "cycle-alltoall", "roofline", "streaming", "analytical", "dropped")
# Per phase: step time split over op kinds (seconds) for the baseline, plus exposed communication and bubble.
BASE = {
    "train": {"gemm": 6.0, "grouped_gemm": 7.5, "attention": 3.2, "elementwise": 0.9, "cast": 0.6,
              "all_to_all_dispatch": 1.1, "all_to_all_combine": 1.3, "exposed": 0.8, "bubble": 1.4},
    "prefill": {"gemm": 0.22, "grouped_gemm": 0.31, "attention": 0.18, "elementwise": 0.04, "cast": 0.03,
                "all_to_all_dispatch": 0.06, "all_to_all_combine": 0.07, "exposed": 0.05, "bubble": 0.0},
    "decode": {"gemm": 0.0042, "grouped_gemm": 0.0061, "attention": 0.0048, "elementwise": 0.0009, "cast": 0.0004,
               "all_to_all_dispatch": 0.0031, "all_to_all_combine": 0.0043, "exposed": 0.0052, "bubble": 0.0},
}
COMM_KINDS = ("all_to_all_dispatch", "all_to_all_combine")
GPUS = {"train": 2048, "prefill": 32, "decode": 320}
TOKENS_PER_STEP = {"train": 15360 * 4096, "prefill": 32 * 4 * 4096, "decode": 320 * 64}


def step(phase, factors=None, comm_scale=1.0):
    """Breakdown, exposed comm, bubble and step time of one point; factors: speed-up per op kind (PROPOSALS)."""
    factors = factors or {}
    base = BASE[phase]
    kinds = {}
    for kind, t in base.items():
        if kind in ("exposed", "bubble"):
            continue
        kinds[kind] = t * comm_scale / factors.get("comm", 1.0) if kind in COMM_KINDS else t / factors.get(kind, 1.0)
    exposed = base["exposed"] * comm_scale / factors.get("comm", 1.0)
    compute = sum(v for k, v in kinds.items() if k not in COMM_KINDS)
    bubble = base["bubble"] * compute / sum(base[k] for k in COMPUTE_KINDS)
    return kinds, exposed, bubble, compute + exposed + bubble


def metrics_of(phase, kinds, exposed, bubble, step_time):
    """Every metric of one point; NaN where the phase does not define it."""
    nan = float("nan")
    tokens = TOKENS_PER_STEP[phase]
    gpus = GPUS[phase]
    m = {
        "step_time_s": step_time,
        "tokens_per_s_per_gpu": tokens / step_time / gpus,
        "tokens_per_s_per_node": tokens / step_time / gpus * 8,
        "mfu": 0.23 * BASE[phase]["gemm"] / kinds["gemm"] if phase == "train" else nan,
        "gpu_hours_per_trillion_tokens": gpus * step_time / tokens * 1e12 / 3600 if phase == "train" else nan,
        "ttft_ms": step_time * 1e3 * 1.05 if phase == "prefill" else nan,
        "tpot_ms": step_time * 1e3 if phase == "decode" else nan,
        "tokens_per_s_per_request": 1.0 / step_time if phase == "decode" else nan,
        "bubble_s": bubble,
        "exposed_comm_s": exposed,
    }
    for kind, t in kinds.items():
        m["breakdown_s." + kind] = t
    for model in COST_MODELS:
        m["model_s." + model] = sum(t for kind, t in kinds.items() if MODEL_OF[kind] == model)
    m["model_s.analytical"] = 0.05 * sum(kinds[k] for k in COMM_KINDS)
    m["memory_per_gpu_bytes.weights"] = {"train": 12e9, "prefill": 40e9, "decode": 5.2e9}[phase]
    m["memory_per_gpu_bytes.activations"] = {"train": 38e9, "prefill": 9e9, "decode": 1.1e9}[phase]
    m["memory_per_gpu_bytes.kv_cache"] = nan if phase == "train" else {"prefill": 6e9, "decode": 48e9}[phase]
    # Training also keeps FP32 gradients and the optimizer state: 94 GB, more than the 80 GB a GPU has.
    m["memory_per_gpu_bytes.gradients"] = 24e9 if phase == "train" else nan
    m["memory_per_gpu_bytes.optimizer"] = 20e9 if phase == "train" else nan
    m["memory_capacity_bytes"] = 80e9
    m["memory_per_gpu_bytes.total"] = sum(v for k, v in m.items() if k.startswith("memory_per_gpu_bytes.") and v == v)
    m["stream_busy_s.compute"] = sum(v for k, v in kinds.items() if k not in COMM_KINDS)
    m["stream_busy_s.comm"] = sum(kinds[k] for k in COMM_KINDS)
    return m


def build_points(minimal):
    """Rows of (label, group, phase, value, value_num, status, metrics)."""
    rows = []
    for label, factors in PROPOSALS.items():
        for phase in PHASES:
            rows.append((label, "proposals", phase, label, float("nan"), "ok", metrics_of(phase, *step(phase, factors))))
    # One failed point: it keeps its place, with NaN metrics and its error line.
    failed = dict.fromkeys(rows[0][6], float("nan"))
    rows.append(("larger-nvlink-domain", "proposals", "train", "larger-nvlink-domain", float("nan"),
                 "error: deploy.parallelism.ep: expected an EP size that fits the cluster, found 4096", failed))
    if minimal:
        return rows
    for gbps in (12.5, 25, 50, 100, 200, 400):
        scale = (50.0 / gbps) ** 0.8
        rows.append((f"ib-{gbps:g}GB/s", "ib-bandwidth", "decode", f"{gbps:g}GB/s", gbps * 1e9, "ok",
                     metrics_of("decode", *step("decode", comm_scale=scale))))
    for domain in (8, 16, 32, 64, 72, 144):
        scale = 0.35 + 0.65 * 8.0 / domain
        status = "ok" if domain != 144 else "error: cluster.gpus_per_node: expected at most 72 GPUs in one NVLink domain"
        m = metrics_of("decode", *step("decode", comm_scale=scale))
        if status != "ok":
            m = dict.fromkeys(m, float("nan"))
        rows.append((f"nvl-{domain}", "nvlink-domain", "decode", str(domain), float(domain), status, m))
    # HBM capacity for training: the 94 GB peak fits only the largest; the others are infeasible, metrics kept.
    for cap in (64e9, 80e9, 96e9, 141e9):
        m = metrics_of("train", *step("train"))
        m["memory_capacity_bytes"] = cap
        peak = m["memory_per_gpu_bytes.total"]
        status = "ok" if peak <= cap else (f"infeasible: deployment 'fake-train' needs {peak / 1e9:g} GB per GPU at "
                                           f"its peak, more than the {cap / 1e9:g} GB of 'fake' (hbm.capacity)")
        rows.append((f"hbm-{cap / 1e9:g}GB", "hbm-capacity", "train", f"{cap / 1e9:g}GB", cap, status, m))
    return rows


def write_strings(group, name, values):
    group.create_dataset(name, data=np.array(values, dtype=object), dtype=h5py.string_dtype())


SCHEMAS = {}  # v3sim's table schemas (`v3sim describe tables --json`), when given


def write_table(tables, name, title, source, columns, attrs=None):
    """columns: list of (name, unit, values); text columns hold str values. A table v3sim declares a schema for is
    written in the schema's column order, units, descriptions and attributes; every schema column must have values."""
    schema = SCHEMAS.get(name)
    descriptions = {}
    if schema:
        values = {c[0]: c[2] for c in columns}
        missing = [c["name"] for c in schema["columns"] if c["name"] not in values]
        if missing:
            raise SystemExit(f"make_fake_study.py: table {name}: no made-up values for schema columns {missing}")
        columns = [(c["name"], c["unit"], values[c["name"]]) for c in schema["columns"]]
        descriptions = {c["name"]: c["description"] for c in schema["columns"]}
        attrs = dict(schema.get("attrs", {}), **(attrs or {}))
    g = tables.create_group(name)
    g.attrs["title"] = title
    g.attrs["source"] = source
    g.attrs["columns"] = ",".join(c[0] for c in columns)
    for key, value in (attrs or {}).items():
        g.attrs[key] = value
    for col, unit, values in columns:
        if values and isinstance(values[0], str):
            write_strings(g, col, values)
        else:
            g.create_dataset(col, data=np.asarray(values, dtype=np.float64))
        g[col].attrs["unit"] = unit
        if descriptions.get(col):
            g[col].attrs["description"] = descriptions[col]


def numerics_table(tables):
    ks = [256, 512, 1024, 2048, 4096, 8192, 16384]
    # accumulator -> (error at K=256, growth exponent in K)
    accs = {"H800 tensor core only": (2.0e-4, 0.9), "H800 + promotion every 128 (DeepGEMM)": (3.1e-5, 0.15),
            "H800 + FP32 accumulation (proposal), tensor core only": (2.9e-6, 0.5),
            "B200 tensor core only": (3.0e-6, 0.5)}
    cols = {"accumulator": [], "k": [], "max_rel_error": [], "mean_rel_error": [], "normwise_error": []}
    for acc, (e0, p) in accs.items():
        for k in ks:
            mean = e0 * (k / 256) ** p
            cols["accumulator"].append(acc)
            cols["k"].append(k)
            cols["max_rel_error"].append(mean * 9.5)
            cols["mean_rel_error"].append(mean)
            cols["normwise_error"].append(mean * 0.8)
    write_table(tables, "numerics_error_vs_k", "FP8 GEMM accumulation error against K (64x64 outputs, normal inputs)",
                "sim/numerics/error_study (synthetic values)",
                [(c, "", v) for c, v in cols.items()])


def kernels_table(tables):
    rows = []
    for phase, scale in (("train", 1.0), ("prefill", 0.5), ("decode", 0.004)):
        m = 4096 * scale if phase != "decode" else 64
        for name, kind, model, n, k in (("q_a_proj", "gemm", "cycle-gemm", 1536, 7168),
                                        ("o_proj", "gemm", "cycle-gemm", 7168, 16384),
                                        ("experts_up", "grouped_gemm", "cycle-gemm", 4096, 7168),
                                        ("experts_down", "grouped_gemm", "cycle-gemm", 7168, 2048),
                                        ("act_quant", "cast", "cycle-cast", 0, 7168),
                                        ("dispatch", "all_to_all_dispatch", "cycle-alltoall", 0, 0),
                                        ("mla_attention", "attention", "roofline", 0, 0),
                                        ("rmsnorm", "elementwise", "roofline", 0, 0),
                                        ("router_topk", "elementwise", "analytical", 0, 0),
                                        ("pp_send", "p2p", "dropped", 0, 0)):
            if kind in ("gemm", "grouped_gemm"):
                flops = 2.0 * m * n * k * (8 if kind == "grouped_gemm" else 1)
                bytes_ = m * k + n * k * (8 if kind == "grouped_gemm" else 1) + 2 * m * n
                rate = 1.45e15 if m >= 1024 else 3.0e14
                time = max(flops / rate, bytes_ / 2.9e12) * 1.1
                bound = "tensor" if flops / rate > bytes_ / 2.9e12 else "hbm"
            elif kind == "attention":
                flops, bytes_ = 3.1e12 * scale, 2.2e9 * scale + 6e8
                time, bound = max(flops / 6.5e14, bytes_ / 2.9e12), "roofline"
            elif kind == "all_to_all_dispatch":
                flops, bytes_, time, bound = 0.0, 2.9e8 * scale, 4.1e-3 * scale + 1.6e-4, "nic"
            else:
                flops, bytes_ = 2.0e7 * scale + 1e6, 1.2e8 * scale + 1e6
                time, bound = bytes_ / 2.6e12 + 3e-6, "hbm"
            rows.append((phase, name, kind, model, bound, flops, bytes_, time, 61.0, f"{kind} {name}"))
    cols = list(zip(*rows))
    names = ("phase", "name", "kind", "model", "bound", "flops", "bytes", "time_s", "calls", "kernel")
    units = ("", "", "", "", "", "FLOP", "B", "s", "", "")
    write_table(tables, "kernels", "The V3 kernels of each phase on H800 (one layer's worth, per call)",
                "sim/exec step kernels (synthetic values)",
                [(n, u, list(c)) for n, u, c in zip(names, units, cols)],
                attrs={"peak_flops": 1.979e15, "hbm_Bps": 3.35e12})


def hardware_table(tables):
    write_table(tables, "hardware", "The chips of the study", "configs/hardware (synthetic values)",
                [("name", "", ["H800", "B200"]), ("file", "", ["h800.yaml", "b200.yaml"]), ("sms", "", [132.0, 148.0]),
                 ("peak_flops", "FLOP/s", [1.979e15, 4.5e15]), ("bf16_peak_flops", "FLOP/s", [0.989e15, 2.25e15]),
                 ("hbm_Bps", "B/s", [3.35e12, 8.0e12]), ("hbm_bytes", "B", [84943110144.0, 193273528320.0])])


def validation_table(tables, old_style=False):
    """DeepGEMM rows fitted on (cycle-gemm; cross-validated but for one), DeepEP normal rows fitted on with no
    cross-validation (cycle-alltoall), DeepEP low-latency rows predicted (cycle-alltoall). old_style: the columns
    of an older v3sim (no model, role or in-sample figures)."""
    nan = float("nan")
    rows = []  # suite, case, measured, projected (out of sample), unit, source, model, role, fit_projected
    for j, (m, n, k, tf) in enumerate(((64, 2112, 7168, 206), (128, 7168, 16384, 645), (4096, 7168, 16384, 1520),
                                       (4096, 32768, 512, 775))):
        fit = tf * (1 + 0.07 * math.sin(m + n + k))
        cv = tf * (1 + 0.11 * math.sin(m + n + k) + 0.02) if j < 3 else nan
        rows.append(("deepgemm_h800_dense", f"m={m} n={n} k={k}", tf, cv, "TFLOPS",
                     "deepseek-v3.yaml deepgemm_h800: DeepGEMM README", "cycle-gemm", "fitted", fit))
    for (case, pub) in (("intranode dispatch EP8 (nvl GB/s)", 153), ("internode dispatch EP64 (rdma GB/s)", 51),
                        ("internode combine EP64 (rdma GB/s)", 50)):
        rows.append(("deepep_h800_normal", case, pub, nan, "GB/s", "deepseek-v3.yaml deepep_h800: DeepEP README",
                     "cycle-alltoall", "fitted", pub * 0.93))
    for (case, pub, proj) in (("low-latency dispatch EP128 (rdma GB/s)", 46, 41.5),
                              ("low-latency combine EP128 (rdma GB/s)", 46, 50.1)):
        rows.append(("deepep_h800_low_latency", case, pub, proj, "GB/s",
                     "deepseek-v3.yaml deepep_h800: DeepEP README", "cycle-alltoall", "predicted", nan))
    cols = [list(c) for c in zip(*rows)]
    if old_style:  # an older v3sim: one projection per row, the fit's
        cols[3] = [f if r == "fitted" else p for p, r, f in zip(cols[3], cols[7], cols[8])]
    err = [100.0 * (p - m) / m for m, p in zip(cols[2], cols[3])]
    fit_err = [100.0 * (f - m) / m for m, f in zip(cols[2], cols[8])]
    columns = [("suite", "", cols[0]), ("case", "", cols[1]), ("measured", "", cols[2]), ("projected", "", cols[3]),
               ("unit", "", cols[4]), ("error_pct", "%", err), ("source", "", cols[5])]
    attrs = None
    if not old_style:
        columns += [("model", "", cols[6]), ("role", "", cols[7]), ("fit_projected", "", cols[8]),
                    ("fit_error_pct", "%", fit_err)]
        attrs = {"cross_validation": "leave-one-out over the DeepGEMM rows (synthetic values)"}
    write_table(tables, "validation", "Projected against measured: DeepSeek's published H800 figures",
                "synthetic values", columns, attrs=attrs)


def add_registry_metrics(rows, registry):
    """Made-up values of the registry's swept metrics the rows lack: 1 / step time, in each phase that has them."""
    for name, attrs in registry.items():
        if not attrs.get("sweep"):
            continue
        for r in rows:
            m = r[6]
            if name not in m and r[2] in attrs.get("phases", []):
                m[name] = 1.0 / m["step_time_s"] if m["step_time_s"] == m["step_time_s"] else float("nan")


def write_study(path, minimal, registry=None, old_style=False):
    rows = build_points(minimal)
    if old_style:  # an older v3sim: no model_s.<cost model> metrics
        for r in rows:
            for k in [k for k in r[6] if k.startswith("model_s.")]:
                del r[6][k]
    if registry:
        add_registry_metrics(rows, registry)
    with h5py.File(path, "w") as f:
        f.attrs["format"] = "v3sim-study-1"
        f.attrs["study"] = "deepseek-v3-proposals"
        f.attrs["study_yaml"] = "name: deepseek-v3-proposals\nbase: {hw: h800, cluster: h800-2048-mpft}\n"
        f.attrs["tool_version"] = "0.1.0"
        f.attrs["git_revision"] = "0123456789ab"
        f.attrs["created_utc"] = "2026-12-01T12:00:00Z"
        p = f.create_group("points")
        p.create_dataset("index", data=np.arange(len(rows), dtype=np.int64))
        for i, name in enumerate(("label", "group", "phase", "value")):
            write_strings(p, name, [r[i] for r in rows])
        p.create_dataset("value_num", data=np.array([r[4] for r in rows], dtype=np.float64))
        write_strings(p, "status", [r[5] for r in rows])
        names = sorted({k for r in rows for k in r[6]})
        m = f.create_group("metrics")
        for name in names:
            m.create_dataset(name, data=np.array([r[6].get(name, float("nan")) for r in rows], dtype=np.float64))
            for key, value in (registry or {}).get(name, {}).items():
                if key != "phases":  # results.h5 stores the rest as string attributes
                    m[name].attrs[key] = value
        tables = f.create_group("tables")
        if not minimal:
            numerics_table(tables)
            kernels_table(tables)
            hardware_table(tables)
            validation_table(tables, old_style)


def write_trace(path, source, scale, gpu="NVIDIA H200 (132 SMs)"):
    """A v3sim result file (report/h5_file.h) with a few GEMM ops, measured at `scale` x the validation table's
    TFLOPS (scale 1: the table's own figures, as traces/published/ converts DeepSeek's published tables)."""
    dt = np.dtype([("op", "<u4"), ("name", "S128"), ("kind", "S32"), ("device", "<i4"), ("stream", "<i4"),
                   ("start_ps", "<i8"), ("end_ps", "<i8"), ("duration_ps", "<i8"), ("flops", "<f8"), ("bytes", "<f8")])
    shapes = ((64, 2112, 7168, 206), (128, 7168, 16384, 645), (4096, 7168, 16384, 1520))
    rows, t = [], 0
    for i, (m, n, k, tf) in enumerate(shapes):
        flops = 2.0 * m * n * k
        d = int(flops / (tf * 1e12 * scale) * 1e12)
        rows.append((i, f"gemm:m={m},n={n},k={k}".encode(), b"gemm", 0, 0, t, t + d, d, flops, m * k + n * k + 2 * m * n))
        t += d
    with h5py.File(path, "w") as f:
        meta = f.create_group("meta")
        for key, value in (("format", "v3sim-result-1"), ("tool_version", "0.1.0"), ("git_revision", "0123456789ab"),
                           ("created_utc", "2026-11-30T08:00:00Z"), ("timeline_source", source),
                           ("gpu", gpu if source == "measured" else ""),
                           ("command_line", f"v3sim measure --kernel fp8_gemm -o {os.path.basename(path)}")):
            meta.attrs[key] = np.bytes_(value.encode())
        f.create_dataset("timeline", data=np.array(rows, dtype=dt))
        f.create_group("summary").attrs["ops"] = float(len(rows))
        f.create_group("stats")


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--minimal", action="store_true", help="points and metrics only, one failed point")
    ap.add_argument("--old-style", action="store_true", help="the validation table and metrics of an older v3sim: "
                    "no model, role or in-sample columns, no model_s.<cost model> metrics")
    ap.add_argument("--traces", help="also write two trace files (measured, projected) in this folder")
    ap.add_argument("--registry", help="v3sim's metric registry (`v3sim describe metrics --json`), optionally with "
                    "its table schemas (`v3sim describe tables --json`) under \"tables\"")
    a = ap.parse_args(argv)
    registry = None
    if a.registry:
        with open(a.registry, encoding="utf-8") as f:
            loaded = json.load(f)
        registry = loaded["metrics"]
        SCHEMAS.update(loaded.get("tables", {}))
    write_study(a.out, a.minimal, registry, a.old_style)
    if a.traces:
        for sub in ("h200", "h800", "published"):
            os.makedirs(os.path.join(a.traces, sub), exist_ok=True)
        write_trace(os.path.join(a.traces, "h200", "fp8-gemm.h5"), "measured", 0.97)
        # The validation table's own figures again (not a second check), and a further H800 measurement (one).
        write_trace(os.path.join(a.traces, "published", "deepgemm-h800.h5"), "measured", 1.0, "NVIDIA H800 SXM5")
        write_trace(os.path.join(a.traces, "h800", "fp8-gemm.h5"), "measured", 0.95, "NVIDIA H800 SXM5")
        write_trace(os.path.join(a.traces, "projected-gemm.h5"), "projected", 1.0)
        with open(os.path.join(a.traces, "not-a-trace.h5"), "wb") as f:
            f.write(b"this is not HDF5")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
