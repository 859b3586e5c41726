"""Write an evaluation as ``DIR/report.json``, ``DIR/report.md`` and PNG plots.

Plots (matplotlib, Agg backend): the prediction against the target over a test window,
NRMSE by model with intervals (one panel per task), the memory-capacity curve, and the
device NRMSE per serial (one point per run). Every figure states its normalisation and
what its intervals are.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np


def fmt_figure(value: float | None, digits: int = 3) -> str:
    """A figure for a table, ``n/a`` when missing."""
    return "n/a" if value is None else f"{value:.{digits}f}"


def fmt_p(value: float | None, missing: str = "n/a") -> str:
    """A p-value for a table: two significant digits, ``<1e-4`` below that."""
    if value is None:
        return missing
    return f"{value:.2g}" if value >= 1e-4 else "<1e-4"


def verdict_lines(report: dict[str, Any]) -> list[str]:
    """One line per task: the verdict and the margins to the best input-only control and
    to the equal-size ESN."""
    lines = []
    for task, rep in report["results"].items():
        v = rep["verdict"]
        margin = rep["margins"]["best_input_only"]
        esn = rep["margins"]["esn_equal"] or {}
        state = "COMPUTES" if v["computes"] else "does NOT compute"
        why = ""
        if v["failed"]:
            why = f"; not better than: {', '.join(v['failed'])}"
        if v["missing"]:
            why += f"; missing controls: {', '.join(v['missing'])}"
        lines.append(
            f"{task}: {state}{why}. Margin to best input-only ({margin['name']}): "
            f"{fmt_figure(margin.get('mean'))} [{fmt_figure((margin.get('ci') or [None])[0])}, "
            f"{fmt_figure((margin.get('ci') or [None, None])[1])}]; "
            f"to equal-size ESN: {fmt_figure(esn.get('mean'))} "
            f"({rep['margins']['definition']})"
        )
    return lines


def markdown(report: dict[str, Any], plots: dict[str, str]) -> str:
    """report.md: the protocol, one table per task, verdicts, warnings and the plots."""
    proto = report["protocol"]
    out = [
        f"# Reservoir evaluation: protocol `{proto['name']}`",
        "",
        f"- runs: {len(report['runs'])} ({report['interval']}); split {report['split']}",
        f"- features ({report['n_features']}): {', '.join(report['feature_names'])}",
        f"- NRMSE = {report['nrmse_definition']}; 1.0 = no better than predicting the mean",
        "- paired difference = device - control per run, mean and t-interval; p = larger of a "
        "one-sided paired t-test and a sign-flip test; p (Holm) corrected across the task's controls",
        "",
    ]
    for task, rep in report["results"].items():
        key = rep["score"]
        out += [f"## {task}: {rep['description']}", "",
                f"Score: {key} ({rep['normalisation']}).", "",
                f"| model | kind | {key} | interval | device - model | p | p (Holm) | device better |",
                "|---|---|---|---|---|---|---|---|"]
        for row in rep["rows"]:
            ci = row.get(f"{key}_ci")
            diff = row.get("paired_difference")
            diff_text = (f"{fmt_figure(diff['mean'])} [{fmt_figure(diff['ci'][0])}, "
                         f"{fmt_figure(diff['ci'][1])}]" if diff else "")
            out.append(
                f"| {row['name']} | {row['kind']} | {fmt_figure(row[key])} | "
                f"{'[' + fmt_figure(ci[0]) + ', ' + fmt_figure(ci[1]) + ']' if ci else 'n/a'} | "
                f"{diff_text} | "
                f"{fmt_p(row.get('p_value')) if row['name'] != 'device' else ''} | "
                f"{fmt_p(row.get('p_holm')) if 'p_holm' in row else ''} | "
                f"{row.get('device_better', '')} |"
            )
        if "range_normalised" in rep:
            rn = rep["range_normalised"]
            out += ["", f"Range-normalised NRMSE ({rn['definition']}):", ""]
            out += [f"- {r['name']}: {r['nrmse_range']:.4f}" for r in rn["rows"]]
            if rn.get("published_figure") is not None:
                out.append("- published figure (range-normalised, no baseline given): "
                           f"{rn['published_figure']}")
        out += ["", f"Rule: {rep['verdict']['rule']}.", ""]
    out += ["## Verdicts", ""] + [f"- {line}" for line in verdict_lines(report)]
    if report.get("machinery_check"):
        out += ["", "## Machinery check (reference ESNs on NARMA-10)", ""]
        for name, m in report["machinery_check"].items():
            exp = m.get("expected") or {}
            out.append(f"- {name}: {fmt_figure(m['nrmse'])} {m['nrmse_ci']} (reservoir.md: {exp.get('mean')} "
                       f"+- {exp.get('sd')})")
    if report.get("warnings"):
        out += ["", "## Warnings", ""] + [f"- {w}" for w in report["warnings"]]
    if plots:
        out += ["", "## Plots", ""] + [f"![{name}]({path})" for name, path in plots.items()]
    return "\n".join(out) + "\n"


def _plots(report: dict[str, Any], out: Path) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files: dict[str, str] = {}
    window = report["prediction_window"]
    nrmse_tasks = [t for t, r in report["results"].items() if r["score"] == "nrmse"]
    if nrmse_tasks and window["targets"]:
        fig, axes = plt.subplots(len(nrmse_tasks), 1, figsize=(9, 2.6 * len(nrmse_tasks)), squeeze=False)
        for ax, task in zip(axes[:, 0], nrmse_tasks, strict=True):
            target = window["targets"].get(task, [])
            steps = window["first_test_step"] + np.arange(len(target))
            ax.plot(steps, target, color="black", lw=1.2, label="target")
            best = report["results"][task]["margins"]["best_input_only"]["name"]
            for name in ("device", best, "esn_equal"):
                pred = window["predictions"].get(task, {}).get(name)
                if pred is not None:
                    ax.plot(steps, pred, lw=0.9, label=name)
            ax.set_title(f"{task}: test window, seed {window['seed']}, serial {window['serial']}", fontsize=9)
            ax.legend(fontsize=7, loc="upper right")
        axes[-1, 0].set_xlabel("step")
        fig.tight_layout()
        fig.savefig(out / "prediction.png", dpi=90)
        plt.close(fig)
        files["prediction vs target"] = "prediction.png"
        fig, axes = plt.subplots(1, len(nrmse_tasks), figsize=(4.5 * len(nrmse_tasks), 5), squeeze=False)
        for ax, task in zip(axes[0], nrmse_tasks, strict=True):
            rows = [r for r in report["results"][task]["rows"] if r["nrmse"] is not None]
            names = [r["name"] for r in rows]
            means = np.array([r["nrmse"] for r in rows])
            cis = np.array([r["nrmse_ci"] or [r["nrmse"], r["nrmse"]] for r in rows])
            colors = ["tab:red" if r["kind"] == "device" else "tab:blue" if r["kind"] == "input_only"
                      else "tab:gray" for r in rows]
            ax.barh(names, means, xerr=[means - cis[:, 0], cis[:, 1] - means], color=colors)
            ax.invert_yaxis()
            ax.axvline(1.0, color="black", lw=0.5)
            ax.set_xlabel("NRMSE = RMSE / std(test target), 95 % t-interval over runs")
            ax.set_title(task, fontsize=9)
            ax.tick_params(labelsize=7)
        fig.tight_layout()
        fig.savefig(out / "nrmse_by_model.png", dpi=90)
        plt.close(fig)
        files["NRMSE by model"] = "nrmse_by_model.png"
    for task, rep in report["results"].items():
        if "curves" in rep:
            fig, ax = plt.subplots(figsize=(7, 4))
            for name in ("device", "input_now", "input_leaky", "esn_equal", "device_disconnected"):
                if name in rep["curves"]:
                    ax.plot(rep["curves"][name], marker=".", label=name)
            ax.set_xlabel("delay k (steps)")
            ax.set_ylabel("MC_k = squared correlation on test")
            ax.set_title(f"memory capacity curve (mean over {len(report['runs'])} runs)", fontsize=9)
            ax.legend(fontsize=7)
            fig.tight_layout()
            fig.savefig(out / f"{task}_curve.png", dpi=90)
            plt.close(fig)
            files["memory capacity curve"] = f"{task}_curve.png"
    tasks = list(report["results"])
    fig, axes = plt.subplots(1, len(tasks), figsize=(4 * len(tasks), 3.5), squeeze=False)
    serials = report["serials"]
    for ax, task in zip(axes[0], tasks, strict=True):
        rep = report["results"][task]
        device = next(r for r in rep["rows"] if r["name"] == "device")
        best = rep["margins"]["best_input_only"]["name"]
        best_row = next(r for r in rep["rows"] if r["name"] == best)
        xs = [serials.index(r["serial"]) for r in report["runs"]]
        ax.scatter(xs, device["per_run"], color="tab:red", label="device")
        ax.scatter(xs, best_row["per_run"], color="tab:blue", marker="x", label=best)
        ax.set_xticks(range(len(serials)), serials, rotation=45, fontsize=7)
        ax.set_ylabel(rep["score"])
        ax.set_title(f"{task}: per run, by serial", fontsize=9)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "per_serial.png", dpi=90)
    plt.close(fig)
    files["per-serial scatter"] = "per_serial.png"
    return files


def write_report(report: dict[str, Any], out_dir: str | Path, *, plots: bool = True) -> Path:
    """Write report.json, the PNG plots and report.md under ``out_dir``; return the dir."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=1, allow_nan=False))
    files = _plots(report, out) if plots else {}
    (out / "report.md").write_text(markdown(report, files))
    return out
