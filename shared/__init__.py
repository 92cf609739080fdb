"""The wire contract both the vendor and the client import.

- `schemas`: request/response bodies of the REST API.
- `errors`: error codes, their HTTP status and the one error shape.
- `headers`: header names.
- `codec`: image and embedding codecs and their limits.
- `hashing`: content hashing of queries and request bodies.
- `redis_server`: which Redis to talk to (configured or embedded).
"""
