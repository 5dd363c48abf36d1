"""Users, sign-in and permissions."""
