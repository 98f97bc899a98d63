"""Small real example datasets shipped with loss-advisor (see README.md here)."""
