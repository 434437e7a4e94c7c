"""Bulk email campaigns: compose (`drafts`), audience (`audience`), send state (`sending`),
tracking and the suppression list (`tracking`), results (`results`)."""
