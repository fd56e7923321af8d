"""``parscale paired BASE [HEAD]``: measure both revisions in one job, alternately.

A saved baseline was measured on another runner, or beside another neighbour; the
noise between those runs raised the false alarms of issue 14. Here both sides run
on this machine now, in pairs of adjacent sessions in ABBA order, so a slow patch
of the machine hits both sessions of a pair and cancels in their difference. Each
test is judged on its per-pair differences against the threshold, the error spent
over the looks and controlled over the run's family of tests. docs/paired.md has
the details.

Modules: pairwise (the pure test of the pairs), schedule (when the run looks, when a
test stops), look (one look: judged, closed, open), spread (what an uncertain test
would take), pooling (a side's sessions pooled for the report, the pairs judged),
worktrees (git and pip), sessions (the ABBA loop), command (``parscale paired``'s
arguments and main).
"""
