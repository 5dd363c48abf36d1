-- PATCH /items/{id}: a new qty for a random seeded row (IDS is prepended by the bench), so
-- concurrent requests update the same rows and writers contend as they would in production.
local counter = 0
local headers = {["Content-Type"] = "application/json"}

function request()
  counter = counter + 1
  local body = string.format('{"qty": %d}', counter % 50)
  return wrk.format("PATCH", "/items/" .. IDS[math.random(#IDS)], headers, body)
end
