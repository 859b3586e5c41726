"""Energy filter page: the early-abort ("Thermodynamic Probability Filter") evaluation,
as `hashrc tpf` reports it: per abort point and classifier the ROC AUC with its
bootstrap interval and permutation p-value, the mutual information, the energy ledger
across thresholds, and the bound 1 - k/64 beside the realised saving."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import charts
from dashboard.reports import show_report
from dashboard.ui import chart, figure, interval, pick_report, raw_report, report_images, table

INTRO = ("ROC AUC of each classifier on SHA-256 states after k rounds (0.5 is chance), with a bootstrap "
         "interval and a permutation test; the energy ledger across thresholds. The theoretical bound "
         "1 - k/64 is a bound (every hash aborted, every valid share lost), shown beside the realised "
         "saving, never instead of it.")

st.title("Energy filter: does aborting early save energy?")
st.caption(INTRO)
chosen = pick_report("energy_filter", what="energy-filter", how="Run `hashrc tpf` to make one.")
evaluations = chosen.report.get("evaluations") if chosen is not None else None

if chosen is not None and isinstance(evaluations, list):
    report = chosen.report
    dataset = report.get("dataset") or {}
    st.markdown(f"**Claim:** {report.get('claim', '')}")
    st.caption(f"{dataset.get('n', '?'):,} headers from {dataset.get('n_jobs', '?')} jobs "
               f"({dataset.get('source', '?')}); label: final SHA-256d meets the target; positive rate "
               f"{figure(dataset.get('positive_rate'), 4)}. Energy: {report.get('energy_model', '')}")
    rows = []
    for evaluation in evaluations:
        point = evaluation.get("abort_point") or {}
        bounds = evaluation.get("bounds") or {}
        for model in evaluation.get("models") or []:
            best = model.get("best_saving") or {}
            mi = model.get("mutual_information") or {}
            rows.append({
                "abort point": f"hash {point.get('hash')} round {point.get('round')}",
                "classifier": model.get("model"),
                "ROC AUC": figure(model.get("auc"), 4),
                "AUC 95 % CI": interval(model.get("auc_ci"), 4),
                "permutation p": figure(model.get("auc_permutation_p"), 4),
                "MI (bits)": f"{figure(mi.get('bits'), 5)} {interval(mi.get('interval'), 5)}",
                "beats majority p": figure((model.get("beats_majority") or {}).get("p_value"), 3),
                "best realised saving": figure(best.get("saving"), 4),
                "bound 1 - k/64 (a bound)": figure(bounds.get("published_bound_1_minus_k_over_64"), 4),
            })
    table(pd.DataFrame(rows))
    options = [f"{r['abort point']} / {r['classifier']}" for r in rows]
    if options:
        pick = st.selectbox("energy ledger of", options)
        e_index, m_index = divmod(options.index(pick), max(1, len(evaluations[0].get("models") or [1])))
        model = (evaluations[e_index].get("models") or [])[m_index]
        ledger = pd.DataFrame(model.get("ledger") or [])
        if not ledger.empty:
            st.markdown("**Energy ledger across thresholds**: fraction of hashes aborted, fraction of valid "
                        "shares lost, SHA-256 rounds spent per valid share relative to no filter (1.0)")
            flat = ledger.drop(columns=[c for c in ledger.columns if c.endswith("_ci")])
            table(flat)
            long = flat.melt(id_vars="fraction_aborted",
                             value_vars=["valid_lost", "rounds_per_valid_share_rel"],
                             var_name="series", value_name="value")
            chart(charts.line(long, x="fraction_aborted", y="value", x_title="fraction of hashes aborted",
                              y_title="fraction / ratio (1)", color="series", zero=True))
    circularity = report.get("published_circularity")
    if isinstance(circularity, dict):
        st.markdown(f"**The published circularity, replayed:** {circularity.get('description', '')}")
        guard = circularity.get("guard")
        if guard:
            st.warning(f"The leakage guard refuses it: {guard}")
    report_images(chosen)
    raw_report(chosen)
elif chosen is not None:  # a report of another shape: show what it has
    show_report(chosen, "energy_filter")
