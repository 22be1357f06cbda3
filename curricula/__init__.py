"""Curricula: schedulers that choose what to practise next, and their SB3 bridge."""
