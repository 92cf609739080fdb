-- Moving-window rate limits: every limit of one request counted and read in one call.
-- A limit keeps one timestamp per unit counted (newest first, at most `amount` of them), so a
-- request is admitted when fewer than `amount - cost + 1` units fall in the last window.
-- Exact; the work grows with the cost and, for the read, with log(amount).
-- KEYS: per limit, its list of timestamps (microseconds, Redis' clock)
-- ARGV: per limit, its amount, its window in seconds, and the request's cost against it
-- Returns per limit: 1 when the cost was counted (0: refused, nothing counted for this limit),
-- what remains of the amount, and milliseconds until the oldest unit in the window leaves it.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])

local function acquire(key, amount, window, seconds, cost)
  if cost > amount then return 0 end
  local entry = redis.call('LINDEX', key, amount - cost)
  if entry and tonumber(entry) >= now - window then return 0 end
  local stamps = {}
  for j = 1, cost do stamps[j] = now end
  for j = 1, #stamps, 5000 do
    redis.call('LPUSH', key, unpack(stamps, j, math.min(j + 4999, #stamps)))
  end
  redis.call('LTRIM', key, 0, amount - 1)
  redis.call('EXPIRE', key, seconds)
  return 1
end

-- The index of the oldest timestamp inside the window (binary search over the newest-first
-- list), or nil when the window is empty.
local function oldest(key, amount, window)
  local low, high, found = 0, amount - 1, nil
  while low <= high do
    local mid = math.floor((low + high) / 2)
    local stamp = tonumber(redis.call('LINDEX', key, mid))
    if stamp and stamp >= now - window then
      found = mid
      low = mid + 1
    else
      high = mid - 1
    end
  end
  return found
end

local replies = {}
for i = 1, #ARGV / 3 do
  local key = KEYS[i]
  local amount = tonumber(ARGV[3 * i - 2])
  local seconds = ARGV[3 * i - 1]
  local window = tonumber(seconds) * 1000000
  local cost = tonumber(ARGV[3 * i])
  replies[#replies + 1] = acquire(key, amount, window, seconds, cost)
  local index = oldest(key, amount, window)
  if index then
    local start = tonumber(redis.call('LINDEX', key, index))
    replies[#replies + 1] = amount - (index + 1)
    replies[#replies + 1] = math.floor((start + window - now) / 1000)
  else
    replies[#replies + 1] = amount
    replies[#replies + 1] = math.floor(window / 1000)
  end
end
return replies
