"""newsmon's spiders: `feeds` (RSS, Atom and JSON feeds)."""
