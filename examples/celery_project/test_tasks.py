"""The project's tasks measured on its own prefork worker, through celery.contrib.pytest.

``parscale.map(task, items)`` dispatches ``group(task.s(item) for item in items)`` on
the task's app, with its JSON serializer, and runs ``task.run`` in a plain loop as
the serial reference. A test that requests ``celery_session_worker`` runs on the
celery backend only.
"""

from __future__ import annotations

from typing import Any

import pytest
from proj.tasks import orders, portfolios, risk_score, total


@pytest.mark.speedup(min=1.3, workers=2)
@pytest.mark.overhead(max=0.25)
def test_risk_scores_scale(parscale: Any, celery_session_worker: Any) -> None:
    scores = parscale.map(risk_score, portfolios(16))
    assert [score["id"] for score in scores] == list(range(16))


def test_order_totals_pay_for_their_messages(parscale: Any, celery_session_worker: Any) -> None:
    """Little work per large JSON message: the summary shows the serialisation share."""
    totals = parscale.map(total, orders(32), chunksize=8)
    assert len(totals) == 32
