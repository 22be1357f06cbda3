"""Driving lanes: curvy multi-lane roads, IDM/MOBIL traffic, NumPy-vectorised (see env.py)."""
