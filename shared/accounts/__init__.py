"""Accounts and access: users, organizations, memberships, tokens, API keys."""

from shared.accounts.principals import OrgContext, Principal
from shared.accounts.roles import Role

__all__ = ["OrgContext", "Principal", "Role"]
