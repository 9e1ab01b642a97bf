"""The shared kernel every app may use: money, exceptions, keyset pages, client IP, converters,
template tags, the cache, the task queue, e-mail, transitions and the audit trail.

``core`` imports no app of the project (tests/test_dependencies.py holds it to that).
"""
