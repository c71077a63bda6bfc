"""The W&B GraphQL API the SDK talks to, on graphql-core against the SDL in ``schema.graphql``.

``schema`` builds the schema; ``execution`` reads, validates and executes one request; ``operations`` is the
root node (the Query and Mutation fields bound to resolvers); ``nodes`` is the object graph, built on
``context``, ``lookups``, ``files`` and ``run_history``; ``run_mutations`` and ``artifact_mutations`` write.
"""
