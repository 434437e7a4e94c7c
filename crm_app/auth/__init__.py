"""Identity (passwords, sessions) and the role × action permission matrix."""
