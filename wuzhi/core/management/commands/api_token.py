"""`wuzhi api_token USERNAME`: print the user's API token, creating it on first use.

The token acts with exactly the user's grants (Authorization: Token <key>), so give scripts and
integrations their own user with the narrowest role rather than a worker's or the secretary's."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from rest_framework.authtoken.models import Token


class Command(BaseCommand):
    help = "显示(首次使用时创建)用户的 API 令牌;--reset 作废旧令牌并生成新令牌"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", help="用户名")
        parser.add_argument("--reset", action="store_true", help="作废现有令牌并生成新令牌(令牌泄露时使用)")

    def handle(self, *args: Any, username: str, reset: bool = False, **options: Any) -> None:
        User = get_user_model()
        try:
            user = User._default_manager.get_by_natural_key(username)
        except User.DoesNotExist:
            raise CommandError(f"用户“{username}”不存在") from None
        if not user.is_active:
            # Token authentication refuses inactive users; a key would only mislead.
            raise CommandError(f"用户“{username}”已停用,不能使用 API 令牌")
        if reset:
            Token.objects.filter(user=user).delete()
        token, created = Token.objects.get_or_create(user=user)
        if created and not reset:
            self.stderr.write(f"已为“{username}”创建 API 令牌")
        elif reset:
            self.stderr.write(f"已作废“{username}”的旧令牌并生成新令牌")
        # Only the key on stdout, so `$(wuzhi api_token bot)` works in scripts.
        self.stdout.write(token.key)
