"""Claims page: the `hashrc claims` table, one row per published claim."""

from dashboard.reports import render

render("claims", title="The published claims, measured", what="claims",
       how="Run `hashrc claims --quick --out DIR` to make one.",
       intro="Each row: the figure as published, what hashrc measured with its interval and the control "
             "it is compared with, and the verdict.")
