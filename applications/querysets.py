"""Reusable lookups that scope everything to what a caller may see."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import models

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


class ApplicationQuerySet(models.QuerySet):
    def visible_to(self, user: AbstractBaseUser) -> ApplicationQuerySet:
        """Operators see every application; other accounts only those they are members of."""
        if not user.is_authenticated:
            return self.none()
        if user.is_staff:
            return self.all()
        return self.filter(memberships__user=user)

    def editable_by(self, user: AbstractBaseUser) -> ApplicationQuerySet:
        """Applications whose resources (subscriptions, products, devices) this account may change:
        owners and developers, and operators."""
        if not user.is_authenticated:
            return self.none()
        if user.is_staff:
            return self.all()
        return self.filter(memberships__user=user, memberships__role__in=("owner", "developer"))

    def managed_by(self, user: AbstractBaseUser) -> ApplicationQuerySet:
        """Applications whose settings, secret and members this account may change."""
        if not user.is_authenticated:
            return self.none()
        if user.is_staff:
            return self.all()
        return self.filter(memberships__user=user, memberships__role="owner")


class MembershipQuerySet(models.QuerySet):
    def for_app(self, application) -> MembershipQuerySet:
        return self.filter(application=application)
