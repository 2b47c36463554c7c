"""Compare two ``results.csv`` files of the same experiment, column by column.

Checks that a change left an experiment's numbers alone: the same sweep points (``key``) and
rows in the same order, the same columns, and the same value in every cell (compared as text,
i.e. bit for bit as written). Timing columns differ from run to run and are reported but not
counted.

Usage: python tools/compare_results.py REFERENCE/results.csv NEW/results.csv
Exit status 0 when everything but timing is identical, 1 otherwise.
"""

from __future__ import annotations

import csv
import math
import sys

TIMING = {"seconds_per_instance", "seconds_per_instance_median", "ms_per_instance",
          "train_time_s", "epoch_time_s", "time_to_95pct_wmmse_s", "ratio_vs_isacnn",
          "ratio_to_isacnn",
          "train_time_s_total"}


def timing(col: str) -> bool:
    return col in TIMING or col.startswith("speedup_")


def load(path: str) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, newline="") as fh:
        r = csv.DictReader(fh)
        return list(r.fieldnames or []), list(r)


def num(x: str) -> float | None:
    try:
        return float(x)
    except ValueError:
        return None


def main(ref_path: str, new_path: str) -> int:
    cols_a, a = load(ref_path)
    cols_b, b = load(new_path)
    ok = True
    print(f"rows: reference {len(a)}, new {len(b)}")
    if len(a) != len(b):
        ok = False
    keys_a = [r["key"] for r in a]
    keys_b = [r["key"] for r in b]
    print("key column (sweep points, row order):", "identical" if keys_a == keys_b else "DIFFERENT")
    ok &= keys_a == keys_b
    only_a = [c for c in cols_a if c not in cols_b]
    only_b = [c for c in cols_b if c not in cols_a]
    print("columns only in reference:", only_a)
    print("columns only in new:", only_b)
    common_a = [c for c in cols_a if c in cols_b]
    common_b = [c for c in cols_b if c in cols_a]
    print("column order of common columns:", "identical" if common_a == common_b else
          f"DIFFERENT\n  ref: {common_a}\n  new: {common_b}")
    if any(not timing(c) for c in only_a + only_b):
        ok = False
    n = min(len(a), len(b))
    for c in common_a:
        if c == "key":
            continue
        diff = [(i, a[i][c], b[i][c]) for i in range(n) if a[i][c] != b[i][c]]
        tag = " (timing, ignored)" if timing(c) else ""
        if not diff:
            print(f"  {c}: identical{tag}")
            continue
        worst = 0.0
        for _, x, y in diff:
            fx, fy = num(x), num(y)
            if fx is None or fy is None or not (math.isfinite(fx) and math.isfinite(fy)):
                worst = math.inf
            else:
                worst = max(worst, abs(fx - fy) / max(abs(fx), abs(fy), 1e-300))
        print(f"  {c}: {len(diff)} of {n} rows differ, largest relative difference "
              f"{worst:.3g}{tag}; first: row {diff[0][0]} {diff[0][1]!r} -> {diff[0][2]!r}")
        if not tag:
            ok = False
    print("RESULT:", "IDENTICAL (timing columns aside)" if ok else "DIFFERENT")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
