#!/usr/bin/env python3
"""Out-of-fold ROC AUC of shape learners on the TRAIN split of theft-2015 only (docs/theft-model.md,
"Tried on 2026-11-29" and "The learning curve"). A throw-away measurement outside the product:
random convolutional kernels (MiniRocket / MultiRocket from the `aeon` package) with an L2 logistic
regression, against boosted trees on simple statistics, 5 folds x 3 fold seeds. The test split is
dropped on reading, before anything else: no test row is seen, scaled or fitted.

Needs: pip install numpy scipy scikit-learn lightgbm aeon (versions measured: numpy 2, scikit-learn
1.9.1, lightgbm 4.7.0, aeon 1.6.0).

Usage: theft_shape_cv.py SAMPLE.csv [VARIANT ...]   (no variant: all of them; names in VARIANTS)
"""
import csv
import hashlib
import sys
import time
import warnings

import numpy as np

warnings.filterwarnings("ignore")

from scipy.stats import rankdata  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402
from sklearn.model_selection import StratifiedKFold  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

SEEDS = (0, 1, 2)
# The penalties tried for the 20,000-50,000 columns of MultiRocket.
WIDE = (0.001, 0.003)


def in_test(cons_no):
    """The README's split: the first 8 hex digits of SHA-256(CONS_NO), mod 10, below 4."""
    return int(hashlib.sha256(cons_no.encode()).hexdigest()[:8], 16) % 10 < 4


def load_train(path):
    x, y = [], []
    with open(path, newline="") as f:
        rows = csv.reader(f)
        header = next(rows)
        assert len(header) == 367 and header[-1] == "CHK_STATE", "the theft-2015 layout"
        for row in rows:
            if in_test(row[0]):
                continue
            x.append([float(v) if v != "" else np.nan for v in row[1:366]])
            y.append(int(row[366]))
    x, y = np.array(x), np.array(y)
    assert len(y) == 652 and y.sum() == 212, "the train split of the README"
    return x, y


def statistics(x):
    """61 simple statistics per customer: missing and zero shares, level and spread, quantiles,
    12 blocks of 30 days (level against the year's, missing and zero shares), day-to-day change,
    repeated days, week shape, longest zero run, second half against first."""
    miss = np.isnan(x)
    f = {"missing": miss.mean(1)}
    with np.errstate(all="ignore"):
        mean, sd = np.nanmean(x, 1), np.nanstd(x, 1)
        f.update(mean=mean, sd=sd, cv=sd / np.abs(mean))
        for q in (0, 10, 25, 50, 75, 90, 100):
            f[f"q{q}"] = np.nanpercentile(x, q, axis=1)
        f["zero"] = np.nansum(x == 0, 1) / np.maximum(1, (~miss).sum(1))
        f["negative"] = np.nansum(x < 0, 1)
        f["lead"] = np.argmax(~miss, 1)
        for b in range(12):
            s = slice(b * 30, b * 30 + 30 if b < 11 else 365)
            f[f"block{b}"] = np.nanmean(x[:, s], 1) / mean
            f[f"block_missing{b}"] = miss[:, s].mean(1)
            f[f"block_zero{b}"] = np.nansum(x[:, s] == 0, 1) / 30
        d = np.diff(x, axis=1)
        f["change"] = np.nanstd(d, 1) / np.abs(mean)
        f["repeated"] = np.nansum(d == 0, 1)
        week = np.array([np.nanmean(x[:, i::7], 1) for i in range(7)]).T
        for i in range(7):
            f[f"week{i}"] = week[:, i] / mean
        longest = []
        for row in x:
            best = run = 0
            for v in row:
                if v == 0:
                    run += 1
                    best = max(best, run)
                elif not np.isnan(v):
                    run = 0
            longest.append(best)
        f["longest_zero_run"] = np.array(longest)
        f["halves"] = np.nanmean(x[:, 182:], 1) / np.nanmean(x[:, :182], 1)
    return np.column_stack(list(f.values()))


def slog(v):
    return np.sign(v) * np.log1p(np.abs(v))


def carried_forward(x):
    out = x.copy()
    for row in out:
        last = 0.0
        for i, v in enumerate(row):
            if np.isnan(v):
                row[i] = last
            else:
                last = v
    return out


def own_mean(x):
    """Each day over the customer's mean absolute day (missing days 0)."""
    m = np.nanmean(np.abs(x), 1, keepdims=True)
    m = np.where(np.isnan(m) | (m == 0), 1.0, m)
    return np.where(np.isnan(x), 0.0, x) / m


def sums(a, k):
    n = a.shape[1] // k
    return a[:, : n * k].reshape(a.shape[0], n, k).sum(2)


def out_of_fold(y, fit_predict):
    """Out-of-fold scores, one array per fold seed."""
    runs = []
    for s in SEEDS:
        p = np.zeros(len(y))
        for tr, va in StratifiedKFold(5, shuffle=True, random_state=s).split(np.zeros(len(y)), y):
            p[va] = fit_predict(tr, va)
        runs.append(p)
    return runs


def auc(y, runs):
    return np.mean([roc_auc_score(y, p) for p in runs])


def booster():
    """The trees' settings (docs/theft-model.md, "What the model is")."""
    import lightgbm as lgb
    return lgb.LGBMClassifier(n_estimators=400, max_depth=3, num_leaves=8, learning_rate=0.02,
                              subsample=0.8, subsample_freq=1, colsample_bytree=0.5, verbose=-1)


def trees(f, y):
    def fp(tr, va):
        m = booster()
        m.fit(f[tr], y[tr])
        return m.predict_proba(f[va])[:, 1]
    return out_of_fold(y, fp)


def logistic(t, y, c, columns=None):
    def fp(tr, va):
        cols = columns(tr) if columns else slice(None)
        m = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=3000))
        m.fit(t[tr][:, cols], y[tr])
        return m.predict_proba(t[va][:, cols])[:, 1]
    return out_of_fold(y, fp)


def transform(kind, channels, kernels=None, seed=0):
    from aeon.transformations.collection.convolution_based import MiniRocket, MultiRocket
    k = MiniRocket if kind == "mini" else MultiRocket
    args = {"random_state": seed}
    if kernels:
        args["n_kernels"] = kernels
    started = time.time()
    t = np.asarray(k(**args).fit_transform(channels), dtype=np.float64)
    return t, time.time() - started


def univariate(t, y):
    """|AUC - 0.5| of each column alone."""
    r = np.apply_along_axis(rankdata, 0, t)
    n1 = y.sum()
    n0 = len(y) - n1
    return np.abs((r[y == 1].sum(0) - n1 * (n1 + 1) / 2) / (n1 * n0) - 0.5)


def main():
    x, y = load_train(sys.argv[1])
    miss = np.isnan(x)
    kwh = slog(np.where(miss, 0.0, x))
    two = np.stack([kwh, miss.astype(float)], 1)
    cache = {}

    def stats_trees():
        if "trees" not in cache:
            cache["trees"] = trees(statistics(x), y)
        return cache["trees"]

    def multi(kernels=6250, seed=0):
        key = ("multi", kernels, seed)
        if key not in cache:
            cache[key] = transform("multi", two, kernels, seed)
        return cache[key]

    def rocket_line(name, t, secs, cs=(0.001, 0.003, 0.01)):
        per = secs / len(y) * 1000
        aucs = ", ".join(f"C {c}: {auc(y, logistic(t, y, c)):.3f}" for c in cs)
        print(f"{name}: {t.shape[1]} features, {per:.1f} ms a customer; {aucs}", flush=True)

    variants = {
        "trees": lambda: print(f"boosted trees on 61 statistics: {auc(y, stats_trees()):.3f}", flush=True),
        "mini-kwh": lambda: rocket_line("MiniRocket, log kWh", *transform("mini", kwh[:, None, :])),
        "mini-mean": lambda: rocket_line(
            "MiniRocket, kWh over its own mean + missing flag",
            *transform("mini", np.stack([own_mean(x), miss.astype(float)], 1))),
        "mini": lambda: rocket_line("MiniRocket, log kWh + missing flag", *transform("mini", two)),
        "mini-diff": lambda: rocket_line(
            "MiniRocket, + day-to-day difference",
            *transform("mini", np.stack([kwh, miss.astype(float), np.diff(kwh, prepend=0, axis=1)], 1))),
        "mini-zero": lambda: rocket_line(
            "MiniRocket, + zero flag",
            *transform("mini", np.stack([kwh, miss.astype(float), (np.where(miss, 0.0, x) == 0).astype(float)], 1))),
        "mini-carried": lambda: rocket_line(
            "MiniRocket, missing days carried forward",
            *transform("mini", np.stack([slog(carried_forward(x)), miss.astype(float)], 1))),
        "multi": lambda: rocket_line("MultiRocket, log kWh + missing flag", *multi(), cs=WIDE),
        "multi-seed1": lambda: rocket_line("MultiRocket, kernel seed 1", *multi(seed=1), cs=WIDE),
        "multi-2500": lambda: rocket_line("MultiRocket, 2,500 kernels", *multi(2500), cs=WIDE),
        "multi-1000": lambda: rocket_line("MultiRocket, 1,000 kernels", *multi(1000), cs=WIDE),
        "multi-weekly": lambda: rocket_line(
            "MultiRocket on weekly sums, 1,000 kernels",
            *transform("multi", np.stack([slog(sums(np.where(miss, 0.0, x), 7)), sums(miss.astype(float), 7) / 7], 1), 1000)),
        "blend": lambda: print("0.7 rank(MultiRocket, C 0.003) + 0.3 rank(trees): {:.3f}".format(auc(y, [
            0.7 * rankdata(r) + 0.3 * rankdata(g)
            for r, g in zip(logistic(multi()[0], y, 0.003), stats_trees())])), flush=True),
        "selected": lambda: selected(x, y, multi()[0]),
        "curve": lambda: curve(x, y, multi()[0]),
    }
    for name in sys.argv[2:] or list(variants):
        variants[name]()


def selected(x, y, t):
    """The columns chosen inside each fold by their AUC alone: trees on the statistics plus the best
    k columns, and a logistic regression on the best k."""
    t = t[:, t.std(0) > 0]
    f = statistics(x)
    order = {}

    def best(tr, k):
        key = tuple(tr[:5]) + (len(tr),)
        if key not in order:
            order[key] = np.argsort(-univariate(t[tr], y[tr]))
        return order[key][:k]

    for k in (20, 50, 150):
        def fp(tr, va, k=k):
            ff = np.hstack([f, t[:, best(tr, k)]])
            m = booster()
            m.fit(ff[tr], y[tr])
            return m.predict_proba(ff[va])[:, 1]
        print(f"trees on the statistics + the best {k} MultiRocket columns: {auc(y, out_of_fold(y, fp)):.3f}", flush=True)
    for k in (100, 300, 1000):
        runs = logistic(t, y, 0.003, columns=lambda tr, k=k: best(tr, k))
        print(f"logistic regression on the best {k} MultiRocket columns: {auc(y, runs):.3f}", flush=True)


def curve(x, y, t):
    """The learning curve: out-of-fold AUC when each fold's model sees only a share of the other four
    folds' rows (drawn at random, stratified, per fold and fold seed); the held-out folds are the
    same at every share. How fast the AUC grows with labelled customers says how many 0.92 needs."""
    f = statistics(x)

    def part(tr, share, seed):
        if share == 1:
            return tr
        rng = np.random.default_rng(seed)
        keep = []
        for label in (0, 1):
            rows = tr[y[tr] == label]
            keep.append(rng.choice(rows, max(2, round(share * len(rows))), replace=False))
        return np.sort(np.concatenate(keep))

    sizes, curves = [], {"trees": [], "MultiRocket": []}
    for share in (0.125, 0.25, 0.5, 0.75, 1):
        calls = iter(range(1000))

        def tree_fp(tr, va):
            tr = part(tr, share, next(calls))
            m = booster()
            m.fit(f[tr], y[tr])
            return m.predict_proba(f[va])[:, 1]
        trees_auc = auc(y, out_of_fold(y, tree_fp))
        calls = iter(range(1000))

        def rocket_fp(tr, va):
            tr = part(tr, share, next(calls))
            m = make_pipeline(StandardScaler(), LogisticRegression(C=0.003, max_iter=3000))
            m.fit(t[tr], y[tr])
            return m.predict_proba(t[va])[:, 1]
        rocket_auc = auc(y, out_of_fold(y, rocket_fp))
        n = round(share * len(y) * 4 / 5)
        print(f"share {share}: about {n} training customers; trees {trees_auc:.3f}, "
              f"MultiRocket {rocket_auc:.3f}", flush=True)
        sizes.append(n)
        curves["trees"].append(trees_auc)
        curves["MultiRocket"].append(rocket_auc)
    extrapolate(np.array(sizes, dtype=float), curves)


def extrapolate(n, curves, goal=0.92):
    """Where each curve heads: a power law with an asymptote, AUC = a - b n^-c, fitted to every
    point, and the straight line in log2(n) through the last three."""
    from scipy.optimize import curve_fit

    def law(n, a, b, c):
        return a - b * n ** -c
    for name, aucs in curves.items():
        aucs = np.array(aucs)
        (a, b, c), _ = curve_fit(law, n, aucs, p0=(0.9, 1.0, 0.5), maxfev=20000)
        slope, at = np.polyfit(np.log2(n[-3:]), aucs[-3:], 1)
        needed = 2 ** ((goal - at) / slope)
        if a > 1:
            level = "no level in sight (the fitted asymptote is above 1)"
        else:
            level = f"the power law levels off at {a:.3f}"
        if goal < a:
            level += f" and reaches {goal} at about {(b / (a - goal)) ** (1 / c):.0f} customers"
        print(f"{name}: {level}; "
              f"{slope:+.3f} a doubling over the last three, {goal} at about {needed:.0f} customers "
              f"on that line; at 652: {at + slope * np.log2(652):.3f}", flush=True)


if __name__ == "__main__":
    main()
