"""What the routes do, as plain functions of a session and settings (routes stay tiny)."""
