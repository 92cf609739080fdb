-- Turn a held reservation into spend, and store the delivered response for replays.
-- KEYS, all of one API key: 1 key hash, 2 holds hash, 3 leases zset,
--   4 idempotency hash (only when the reservation has an Idempotency-Key)
-- ARGV: 1 reservation id, 2 response head, 3 response tail, 4 idempotency ttl s
-- The stored response is head .. remaining budget .. tail (remaining is known only here).
-- Returns {'ok', remaining} or {'expired'} when the lease ran out and it was refunded.
local hold = redis.call('HGET', KEYS[2], ARGV[1])
if not hold then return {'expired'} end
local cost, images, texts, has_idem = string.match(hold, '^(%d+) (%d+) (%d+) (%d)$')
redis.call('HINCRBY', KEYS[1], 'reserved', '-' .. cost)
redis.call('HINCRBY', KEYS[1], 'spent', cost)
redis.call('HINCRBY', KEYS[1], 'images', images)
redis.call('HINCRBY', KEYS[1], 'texts', texts)
redis.call('HINCRBY', KEYS[1], 'requests', 1)
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
local f = redis.call('HMGET', KEYS[1], 'budget', 'spent')
local remaining = tonumber(f[1]) - tonumber(f[2])
if has_idem == '1' and KEYS[4] then
  local body = ARGV[2] .. string.format('%d', remaining) .. ARGV[3]
  redis.call('HSET', KEYS[4], 'state', 'done', 'response', body)
  redis.call('EXPIRE', KEYS[4], ARGV[4])
end
return {'ok', remaining}
