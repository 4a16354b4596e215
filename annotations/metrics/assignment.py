"""Optimal assignment (the Hungarian method) for small rectangular matrices, in numpy.

Shape matching on one image involves tens of shapes, so a vectorised O(n^2 m) shortest
augmenting path solver (Kuhn-Munkres with potentials) is fast enough and keeps scipy out of
the dependencies. :func:`max_weight_matching` adds the two things matching needs: forbidden
pairs and "most pairs first, then the largest total weight".
"""

from __future__ import annotations

import numpy as np


def linear_sum_assignment_min(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Minimum-cost assignment of a finite (n, m) cost matrix.

    Returns ``(rows, cols)`` int arrays of length ``min(n, m)``, sorted by row: every row (or
    every column, when there are fewer columns) is assigned exactly once. Same contract as
    ``scipy.optimize.linear_sum_assignment``.
    """
    cost = np.asarray(cost, dtype=np.float64)
    if cost.ndim != 2:
        raise ValueError(f"cost must be a 2-D matrix, got shape {cost.shape}")
    if not np.isfinite(cost).all():
        raise ValueError("cost matrix must be finite")
    n, m = cost.shape
    if n == 0 or m == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    transposed = n > m
    if transposed:
        cost = cost.T
        n, m = m, n
    col_of_row = _hungarian(cost)
    rows = np.arange(n)
    if transposed:
        order = np.argsort(col_of_row)
        return col_of_row[order], rows[order]
    return rows, col_of_row


def _hungarian(cost: np.ndarray) -> np.ndarray:
    """Rows n <= columns m; returns the column of each row. Potentials u (rows), v (columns);
    column 0 is the virtual start of each augmenting path (indices are 1-based inside)."""
    n, m = cost.shape
    u = np.zeros(n + 1)
    v = np.zeros(m + 1)
    row_of_col = np.zeros(m + 1, dtype=np.int64)  # 0 = free
    way = np.zeros(m + 1, dtype=np.int64)
    for i in range(1, n + 1):
        row_of_col[0] = i
        j0 = 0
        minv = np.full(m + 1, np.inf)
        used = np.zeros(m + 1, dtype=bool)
        while True:
            used[j0] = True
            i0 = row_of_col[j0]
            free = ~used[1:]
            reduced = cost[i0 - 1] - u[i0] - v[1:]
            better = free & (reduced < minv[1:])
            minv[1:][better] = reduced[better]
            way[1:][better] = j0
            candidates = np.where(free, minv[1:], np.inf)
            j1 = int(np.argmin(candidates)) + 1
            delta = candidates[j1 - 1]
            u[row_of_col[used]] += delta
            v[used] -= delta
            minv[1:][free] -= delta
            j0 = j1
            if row_of_col[j0] == 0:
                break
        while j0:
            j1 = way[j0]
            row_of_col[j0] = row_of_col[j1]
            j0 = j1
    col_of_row = np.zeros(n, dtype=np.int64)
    assigned = np.flatnonzero(row_of_col[1:]) + 1
    col_of_row[row_of_col[assigned] - 1] = assigned - 1
    return col_of_row


def max_weight_matching(weights: np.ndarray, allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (rows, cols) among ``allowed`` entries of an (n, m) matrix: first the largest
    number of pairs, then the largest total weight (weights in [0, 1], e.g. IoU).

    Only rows and columns with an allowed entry enter the solver; when every such row and column
    has exactly one allowed entry the pairs are read off directly (the common case).
    """
    allowed = np.asarray(allowed, dtype=bool)
    rows_any = np.flatnonzero(allowed.any(axis=1))
    cols_any = np.flatnonzero(allowed.any(axis=0))
    if rows_any.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    sub = allowed[np.ix_(rows_any, cols_any)]
    if (sub.sum(axis=1) == 1).all() and (sub.sum(axis=0) == 1).all():
        r, c = np.nonzero(sub)
        return rows_any[r], cols_any[c]
    w = np.asarray(weights, dtype=np.float64)[np.ix_(rows_any, cols_any)]
    # Cardinality first: every allowed pair is worth more than any sum of weight differences.
    big = float(min(sub.shape) + 1)
    gain = np.where(sub, big + np.clip(w, 0.0, 1.0), 0.0)
    r, c = linear_sum_assignment_min(-gain)
    keep = sub[r, c]
    return rows_any[r[keep]], cols_any[c[keep]]
