"""The CLIP embedding vendor: embeddings sold per API key, metered in a Redis ledger.

The rooms, in the order a sale passes through them:

- `server/`: the app factory and its lifespan, worker processes, process set-up;
- `api/`: the HTTP layer: routes, dependencies, the one error handler, middleware;
- `sale/`: one sale: check the request, reserve, run it, commit or refund, render;
- `metering/`: the ledger and its Lua scripts, API keys, rate limits, the script pipeliner;
- `engine/`: the model behind both batchers (`Engine`), in a thread or a process of its own;
- `vlm/`: training the offline world's own small CLIP, the model sold by default.

Beside them: `settings` (every VENDOR_* variable), `errors` (the one exception hierarchy),
`metrics` (Prometheus), `state` (what the lifespan hands the routes), `cli`.
"""
