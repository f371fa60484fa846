"""Metrics history in ClickHouse: the only code that speaks SQL to ClickHouse."""
