"""Fingerprints page: device identification from captures (FAR, FRR, EER)."""

from dashboard.reports import render

render("fingerprints", title="Device fingerprints", what="fingerprint",
       how="Run `hashrc puf evaluate` to make one.",
       intro="False-accept and false-reject rates and the equal-error rate over many devices and "
             "repeated captures, with intervals.")
