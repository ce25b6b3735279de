#!/usr/bin/env python3
"""Writes a synthetic wide daily file (customer_id + one column per day of 2025) for the theft
scoring benchmark: N customers drawn from 2,000 generated series (seasonal level, weekly shape,
noise, missing days, zero runs, some falls). Usage: theft_wide.py N OUT.csv"""
import datetime
import math
import random
import sys


def series(rng):
    level = rng.lognormvariate(1.8, 1.0)
    summer = rng.uniform(0.0, 0.8)
    week = [rng.uniform(0.85, 1.15) for _ in range(7)]
    fall_at = rng.randrange(365) if rng.random() < 0.1 else None
    start = rng.choice([0] * 8 + [45, 98, 141])
    out = []
    for d in range(365):
        if d < start or rng.random() < 0.05:
            out.append("")
            continue
        v = level * (1 + summer * math.sin(math.pi * d / 365) ** 4) * week[d % 7] * rng.lognormvariate(0, 0.25)
        if fall_at is not None and d >= fall_at:
            v *= 0.3
        if rng.random() < 0.03:
            v = 0.0
        out.append(f"{v:.2f}")
    return ",".join(out)


def main():
    n, path = int(sys.argv[1]), sys.argv[2]
    rng = random.Random(2025)
    templates = [series(rng) for _ in range(2000)]
    first = datetime.date(2025, 1, 1)
    header = ",".join((first + datetime.timedelta(days=d)).isoformat() for d in range(365))
    with open(path, "w", buffering=1 << 22) as f:
        f.write("customer_id," + header + "\n")
        for i in range(n):
            f.write(f"{9000000000 + i},{templates[rng.randrange(2000)]}\n")


if __name__ == "__main__":
    main()
