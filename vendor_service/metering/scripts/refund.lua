-- Release a held reservation (inference failed, or the request was abandoned).
-- KEYS, all of one API key: 1 key hash, 2 holds hash, 3 leases zset,
--   4 idempotency hash (only when the reservation has an Idempotency-Key)
-- ARGV: 1 reservation id
-- Returns 1 when something was released, 0 when it was already committed or refunded.
local hold = redis.call('HGET', KEYS[2], ARGV[1])
if not hold then return 0 end
local cost, has_idem = string.match(hold, '^(%d+) %d+ %d+ (%d)$')
redis.call('HINCRBY', KEYS[1], 'reserved', '-' .. cost)
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
if has_idem == '1' and KEYS[4] then
  local idem = redis.call('HMGET', KEYS[4], 'res_id', 'state')
  if idem[1] == ARGV[1] and idem[2] == 'pending' then redis.call('DEL', KEYS[4]) end
end
return 1
