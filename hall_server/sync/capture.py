"""(skeleton) see hall_server/sync/__init__.py."""
