from __future__ import annotations

from django.db import models


class SubscriptionQuerySet(models.QuerySet):
    def for_app(self, application) -> SubscriptionQuerySet:
        return self.filter(application=application)


class PushMessageQuerySet(models.QuerySet):
    def for_app(self, application) -> PushMessageQuerySet:
        return self.filter(application=application)
