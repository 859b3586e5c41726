"""Hashrate page: effective hashrate from accepted shares with its Poisson interval."""

from dashboard.reports import render

render("hashrate", title="Hashrate and latency", what="hashrate", how="Run `hashrc hashrate CAPTURE`.",
       intro="Effective hashrate = sum of accepted share difficulties x 2^32 / duration, with an exact "
             "Poisson interval; stale, duplicate and rejected rates; the latency budget per share. "
             "A rate above nominal inside the interval is noise.")
