"""(skeleton) sync routes: /sync/push, /sync/pull, /sync/link, /stations."""
