"""Energy filter page: the early-abort ("Thermodynamic Probability Filter") evaluation."""

from dashboard.reports import render

render("energy_filter", title="Energy filter: does aborting early save energy?", what="energy-filter",
       how="Run `hashrc tpf` to make one.",
       intro="ROC of the best classifier on SHA-256 states after k rounds, with its bootstrap interval; "
             "the energy ledger across thresholds; the theoretical bound 1 - k/64 is a bound, shown beside "
             "the realised saving, never instead of it.")
