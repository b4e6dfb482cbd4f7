"""(skeleton) station registry and sync use cases, see hall_server/sync/__init__.py."""
