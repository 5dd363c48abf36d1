-- GET /health/live: no database, so what is left is the framework and the middleware.
function request()
  return wrk.format("GET", "/health/live")
end
