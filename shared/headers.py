"""HTTP header names of the wire contract."""

AUTHORIZATION = "Authorization"
IDEMPOTENCY_KEY = "Idempotency-Key"
REQUEST_ID = "X-Request-Id"
RETRY_AFTER = "Retry-After"
BUDGET_REMAINING = "X-Budget-Remaining"
# Rate-limit state of the caller's key, for requests and for items (images + texts).
RATELIMIT_LIMIT_REQUESTS = "X-RateLimit-Limit-Requests"
RATELIMIT_REMAINING_REQUESTS = "X-RateLimit-Remaining-Requests"
RATELIMIT_LIMIT_ITEMS = "X-RateLimit-Limit-Items"
RATELIMIT_REMAINING_ITEMS = "X-RateLimit-Remaining-Items"
RATELIMIT_RESET = "X-RateLimit-Reset"

# An Idempotency-Key is an opaque client string of bounded length.
IDEMPOTENCY_KEY_MAX_LENGTH = 255
# "true" on a response replayed from the idempotency store (charged once, by the original).
IDEMPOTENT_REPLAYED = "Idempotent-Replayed"
