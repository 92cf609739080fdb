-- Add credits to an existing key's budget.
-- KEYS: 1 key hash; ARGV: 1 amount. Returns 1, or 0 when the key does not exist.
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HINCRBY', KEYS[1], 'budget', ARGV[1])
return 1
