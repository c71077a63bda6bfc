"""The W&B GraphQL API the SDK talks to, answered from the store without a schema.

Two halves: a small GraphQL reader (``document`` parses a request, ``execution`` shapes resolver data by
its selection sets) and W&B's side of it (``operations`` names every operation the SDK sends and answers
it from the roots; ``nodes`` is the object graph, built on ``context``, ``lookups``, ``files`` and
``run_history``; ``run_mutations`` and ``artifact_mutations`` write; ``introspection`` answers ``__type``).
"""
