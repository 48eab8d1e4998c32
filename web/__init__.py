"""Web panel and device API (Flask)."""
