"""``parscale paired BASE [HEAD]``: measure both revisions in one job, alternately.

A saved baseline was measured on another runner, or beside another neighbour; the
noise between those runs raised the false alarms of issue 14. Here both sides run
on this machine now, in alternating sessions (base, head, base, head ...), so a
slow patch of the machine hits both. Each side's sessions are pooled and the change
is judged by the one rule of regression.py, with a cluster bootstrap (sessions,
then rounds) so noise between sessions counts. docs/paired.md has the details.

Modules: pooling (pure statistics), worktrees (git and pip), sessions (the
alternating loop), command (``parscale paired``'s arguments and main).
"""
