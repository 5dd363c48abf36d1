-- GET /items/{id}, ids drawn at random from the seeded rows (IDS is prepended by the bench).
function request()
  return wrk.format("GET", "/items/" .. IDS[math.random(#IDS)])
end
