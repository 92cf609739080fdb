-- Release a held reservation (inference failed, or the request was abandoned).
-- KEYS: 1 key hash, 2 leases zset, 3 reservation hash
-- ARGV: 1 reservation id
-- Returns 1 when something was released, 0 when it was already committed or refunded.
local r = redis.call('HMGET', KEYS[3], 'cost', 'idem')
if not r[1] then return 0 end
redis.call('HINCRBY', KEYS[1], 'reserved', '-' .. r[1])
redis.call('DEL', KEYS[3])
redis.call('ZREM', KEYS[2], ARGV[1])
if r[2] ~= '' then
  local idem = redis.call('HMGET', r[2], 'res_id', 'state')
  if idem[1] == ARGV[1] and idem[2] == 'pending' then redis.call('DEL', r[2]) end
end
return 1
