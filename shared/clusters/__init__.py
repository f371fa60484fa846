"""Clusters an organization manages: where they are, how to sign in, and what they report."""
