"""Taught categories: few-shot heads over stored embeddings, corrections, active learning.

Because the backbone is frozen and every photo's embedding is in the catalog, a category
is only a small head: fitting it takes milliseconds and re-sorting the whole catalog is a
matrix product over stored embeddings, with no backbone run (see resort.py).
"""
