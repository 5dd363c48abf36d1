"""`make bench`: what users of a baked project feel, measured on this machine."""
