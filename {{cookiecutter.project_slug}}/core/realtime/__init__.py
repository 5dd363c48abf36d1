"""Real-time: change feeds over WebSockets (feeds.py, sockets.py), fanned out by hub.py."""
