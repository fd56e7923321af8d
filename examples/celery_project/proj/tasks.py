"""The project's tasks: JSON documents in, JSON documents out."""

from __future__ import annotations

import random
from typing import Any

from proj.celery import app


@app.task
def risk_score(portfolio: dict[str, Any]) -> dict[str, Any]:
    """CPU-bound: a Monte Carlo of the portfolio's value over ``paths`` random walks.

    Pure Python, so threads share one core (the GIL) and prefork processes do not.
    """
    rng = random.Random(portfolio["seed"])
    losses = 0
    for _ in range(portfolio["paths"]):
        value = 100.0
        for _ in range(20):
            value *= 1.0 + rng.gauss(0.0, portfolio["volatility"])
        losses += value < 90.0
    return {"id": portfolio["id"], "loss_probability": losses / portfolio["paths"]}


@app.task
def total(order: dict[str, Any]) -> float:
    """Almost no work on a large document: the message is the cost."""
    return round(sum(line["price"] * line["quantity"] for line in order["lines"]), 2)


def portfolios(count: int, paths: int = 6000) -> list[dict[str, Any]]:
    return [
        {"id": index, "seed": index, "paths": paths, "volatility": 0.02 + index % 5 * 0.01}
        for index in range(count)
    ]


def orders(count: int, lines: int = 400) -> list[dict[str, Any]]:
    return [
        {
            "id": index,
            "lines": [
                {"sku": f"SKU-{index}-{line}", "price": 1.25 + line % 7, "quantity": line % 3 + 1}
                for line in range(lines)
            ],
        }
        for index in range(count)
    ]
