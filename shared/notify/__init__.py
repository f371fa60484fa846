"""Notification channels (one module each, behind `base.Channel`), the guarded HTTP client
they share, and the outbox delivery that retries transient failures and never loses one."""
