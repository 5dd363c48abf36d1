-- GET /items?limit=20: the first page, with its total.
function request()
  return wrk.format("GET", "/items?limit=20")
end
