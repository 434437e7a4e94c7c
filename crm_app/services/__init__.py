"""Domain logic: every write goes through an action here.

Nothing below this package imports Reflex.
"""
