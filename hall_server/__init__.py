"""hall_server package."""
