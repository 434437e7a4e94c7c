"""Bulk email campaigns: what staff do with one (`manage`), the message template (`template`),
audience (`audience`), the send engine (`delivery`), tracking and the suppression list
(`tracking`), results (`results`)."""
