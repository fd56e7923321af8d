"""A Celery project as its users lay it out: the app in proj/celery.py, tasks in proj/tasks.py."""
