-- Turn a held reservation into spend, and store the delivered response for replays.
-- KEYS: 1 key hash, 2 leases zset, 3 reservation hash, 4 idempotency hash (may be unused)
-- ARGV: 1 reservation id, 2 response head, 3 response tail, 4 idempotency ttl s
-- The stored response is head .. remaining budget .. tail (remaining is known only here).
-- Returns {'ok', remaining} or {'expired'} when the lease ran out and it was refunded.
local r = redis.call('HMGET', KEYS[3], 'cost', 'images', 'texts', 'idem')
if not r[1] then return {'expired'} end
redis.call('HINCRBY', KEYS[1], 'reserved', '-' .. r[1])
redis.call('HINCRBY', KEYS[1], 'spent', r[1])
redis.call('HINCRBY', KEYS[1], 'images', r[2])
redis.call('HINCRBY', KEYS[1], 'texts', r[3])
redis.call('HINCRBY', KEYS[1], 'requests', 1)
redis.call('DEL', KEYS[3])
redis.call('ZREM', KEYS[2], ARGV[1])
local f = redis.call('HMGET', KEYS[1], 'budget', 'spent')
local remaining = tonumber(f[1]) - tonumber(f[2])
if r[4] ~= '' then
  local body = ARGV[2] .. string.format('%d', remaining) .. ARGV[3]
  redis.call('HSET', KEYS[4], 'state', 'done', 'response', body)
  redis.call('EXPIRE', KEYS[4], ARGV[4])
end
return {'ok', remaining}
