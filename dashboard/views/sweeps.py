"""Sweeps page: timing statistics across clock, voltage and difficulty."""

from dashboard.reports import render

render("sweeps", title="Timing sweeps", what="sweep", how="Run `hashrc sweep` to make one.",
       intro="Per cell: share count, inter-arrival CV, 20-bin entropy, goodness of fit against the "
             "exponential law and dispersion, each with its interval and the number of shares behind it; "
             "the bridge's own timestamp jitter floor is measured in the same run.")
