# Stand-in for the official redis image: Debian's Redis, reachable from the other containers.
FROM paxx-stand-in/services:latest
EXPOSE 6379
CMD ["redis-server", "--bind", "0.0.0.0", "--protected-mode", "no", "--save", "", "--appendonly", "no"]
