"""Dramatiq workers and the scheduler that enqueues their work on a clock."""
