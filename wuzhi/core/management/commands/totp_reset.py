"""`wuzhi totp_reset USERNAME`: remove a user's two-step login secret (lost or replaced phone).

Their next login asks for the password only; if their role requires the two-step login they are
sent to enrol a new authenticator right after it. Also clears a login lock on that username."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from wuzhi.core import auth


class Command(BaseCommand):
    help = "重置用户的两步验证(手机丢失或更换时使用),并解除该用户名的登录锁定"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", help="用户名")

    def handle(self, *args: Any, username: str, **options: Any) -> None:
        User = get_user_model()
        try:
            user = User._default_manager.get_by_natural_key(username)
        except User.DoesNotExist:
            raise CommandError(f"用户“{username}”不存在") from None
        had = auth.totp_enabled(user)
        auth.totp_disable(actor=None, user=user)
        auth.unlock(username)
        self.stdout.write(f"已重置“{username}”的两步验证" if had else f"“{username}”未启用两步验证;已解除登录锁定")
