"""The shipped manifests: TOML data files read by `server.catalog.loader` (no code lives here)."""
