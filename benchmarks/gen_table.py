"""A seeded, realistic 30-column CSV for the profile benchmark, cached in ``benchmarks/work/``.

The mix (floats with holes, ints, categoricals, an ID, dates, a yes/no column, a binary target)
exercises every type path of a profiler, so the time and memory figures are not flattered by an
all-numeric table. Rows are written in chunks so a million-row file needs little memory to make.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
from _common import WORK

VERSION = 1  # bump when the recipe changes so cached files are not reused by mistake
SEED = 20240601
CHUNK = 100_000

_REGIONS = np.array(["north", "south", "east", "west", "central"])
_PLANS = np.array(["basic", "plus", "premium"])
_CHANNELS = np.array(["web", "app", "store", "phone", "partner", "email", "social", "referral"])
_DEVICES = np.array(["desktop", "mobile", "tablet", "other"])
_COUNTRIES = np.array([f"country_{i:02d}" for i in range(40)])
_CATEGORIES = np.array([f"cat_{i:03d}" for i in range(200)])


def path_for(rows: int) -> Path:
    """Cache path: rows, seed and recipe version in the name, so a change never reuses a file."""
    return WORK / f"table_{rows}r_s{SEED}_v{VERSION}.csv"


def _holes(rng: np.random.Generator, values: np.ndarray, share: float) -> np.ndarray:
    out = values.astype(float)
    out[rng.random(len(out)) < share] = np.nan
    return out


def _skewed(rng: np.random.Generator, choices: np.ndarray, n: int, a: float = 1.3) -> np.ndarray:
    """Zipf-like picks: real categoricals have a few common levels and a long tail."""
    weights = 1.0 / np.arange(1, len(choices) + 1) ** a
    return rng.choice(choices, size=n, p=weights / weights.sum())


def _chunk(rng: np.random.Generator, start: int, n: int) -> pd.DataFrame:
    age = rng.integers(18, 90, n)
    tenure = rng.integers(0, 3650, n)
    income = np.round(rng.lognormal(10.8, 0.6, n), 2)
    balance = np.round(rng.normal(2500, 1800, n), 2)
    score = rng.normal(0, 1, n)
    logit = 0.8 * score - 0.0004 * tenure + 0.02 * (age - 50) + rng.normal(0, 1, n)
    days = rng.integers(0, 3650, n)
    cols: dict[str, object] = {
        "customer_id": np.char.add("C", (start + np.arange(n)).astype(str)),
        "signup_date": (np.datetime64("2015-01-01") + days).astype(str),
        "age": age,
        "tenure_days": tenure,
        "num_orders": rng.poisson(6, n),
        "num_logins": rng.negative_binomial(2, 0.05, n),
        "household_size": rng.integers(1, 8, n),
        "credit_lines": rng.poisson(2, n),
        "income": _holes(rng, income, 0.08),
        "balance": balance,
        "credit_score": np.round(np.clip(rng.normal(680, 70, n), 300, 850), 0),
        "avg_order_value": np.round(rng.gamma(2.0, 35.0, n), 2),
        "discount_rate": _holes(rng, np.round(rng.beta(2, 8, n), 4), 0.30),
        "session_minutes": np.round(rng.exponential(12.0, n), 3),
        "pages_per_visit": np.round(rng.gamma(3.0, 1.5, n), 2),
        "latitude": np.round(rng.uniform(-60, 70, n), 5),
        "longitude": np.round(rng.uniform(-180, 180, n), 5),
        "engagement_score": np.round(score, 4),
        "support_rating": _holes(rng, np.round(rng.uniform(1, 5, n), 1), 0.55),
        "refund_amount": _holes(rng, np.round(rng.exponential(40.0, n), 2), 0.85),
        "churn_risk_model": _holes(rng, np.round(1 / (1 + np.exp(-logit)), 4), 0.02),
        "monthly_spend": np.round(income / 120 + rng.normal(0, 50, n), 2),
        "region": _skewed(rng, _REGIONS, n, 0.5),
        "plan": _skewed(rng, _PLANS, n, 1.0),
        "channel": _skewed(rng, _CHANNELS, n),
        "device": _skewed(rng, _DEVICES, n),
        "country": _skewed(rng, _COUNTRIES, n),
        "product_category": _skewed(rng, _CATEGORIES, n, 0.9),
        "is_active": np.where(rng.random(n) < 0.7, "yes", "no"),
        "target": (logit > 0.5).astype(np.int8),
    }
    frame = pd.DataFrame(cols)
    frame.loc[rng.random(n) < 0.04, "device"] = None  # categoricals have holes too
    return frame


def ensure(rows: int) -> Path:
    """Return the cached CSV for ``rows``, writing it first (atomically) if it is missing."""
    path = path_for(rows)
    if path.exists():
        return path
    WORK.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".csv.tmp")
    rng = np.random.default_rng(SEED)
    with tmp.open("w", newline="") as fh:
        for start in range(0, rows, CHUNK):
            n = min(CHUNK, rows - start)
            _chunk(rng, start, n).to_csv(fh, index=False, header=start == 0, lineterminator="\n")
    os.replace(tmp, path)
    return path


if __name__ == "__main__":
    import sys

    print(ensure(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000))
