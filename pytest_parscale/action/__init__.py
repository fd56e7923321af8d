"""The GitHub Action: ``parscale ci``, its logic (action.yml stays a thin shell).

Steps, each a subcommand so the composite actions and the tests run the same code:

- ``plan``: where the baseline lives in the Actions cache for this event (cache keys,
  keyed by the environment identity);
- ``fetch``: on a cache miss, the branch's newest baseline artifact, which also tells
  an evicted baseline from a first run;
- ``accept``: the ``parscale-accept`` label and ``parscale-ack: ID @SHA`` lines, for the
  head commit, from people with push rights other than the author;
- ``run``: load (run the tests or take a results file, restore the baseline), judge
  (by the branch's history with 3+ kept runs; a pull request's flags confirmed by a
  paired run, confirm.py), store, write (job summary, step outputs, gating exit code);
- ``comment``: one pull-request comment, the bot's own, updated in place; in the
  trusted workflow_run job it judges the artifact's results again itself.

The runner's environment (``GITHUB_*``, ``RUNNER_*``) and the event file are read
through a mapping so tests fake them; REST calls live in github.py behind an
injectable transport: tests never reach the network.

Modules: event (the workflow run), options (run options, cache keys, environment
identity), baseline (load, store, fetch), decision (the verdict and its reasons as
data), judge and confirm (deciding it, a paired run's confirmation), summary (every
word of the report, built from the decision; the runner's files), trend, github
(REST), acceptance (who accepted what, on which commit), steps (run, comment),
command (arguments and main).
"""
