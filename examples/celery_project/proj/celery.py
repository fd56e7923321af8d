"""The project's Celery app: JSON on the wire, as Celery's defaults and most deployments.

The broker and result backend are production's concern; the tests set theirs in
conftest.py (celery_config), the way celery.contrib.pytest users do.
"""

from __future__ import annotations

from celery import Celery

app = Celery("proj", include=["proj.tasks"])
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
)
