"""Benchmark tasks as pure functions of their parameters and a seed."""

from reservoir.tasks.narma import narma10, narma10_response

__all__ = ["narma10", "narma10_response"]
