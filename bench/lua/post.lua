-- POST /items with a distinct body each time (thread id and a counter), so a unique column
-- would never refuse one.
local counter = 0
local headers = {["Content-Type"] = "application/json"}

function request()
  counter = counter + 1
  local body = string.format('{"name": "bench-%d-%d", "price": "%d.25", "qty": %d}',
    tid or 0, counter, counter % 1000, counter % 50)
  return wrk.format("POST", "/items", headers, body)
end
