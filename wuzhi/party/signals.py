from typing import Any

from django.dispatch import receiver

from wuzhi.registry.signals import household_moved

from .models import Pairing


@receiver(household_moved)
def _pairings_follow_household(sender: Any, household: Any, old_path: str, actor: Any, **kwargs: Any) -> None:
    """A pairing is never dropped when its household moves: it follows, flagged for a person to
    confirm that the helper still serves the household at its new address."""
    Pairing.objects.filter(household=household, ended_on__isnull=True).update(
        area_path=household.area_path, flag=f"联系户已搬至{household.address},请确认是否继续联系"
    )
