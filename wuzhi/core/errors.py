from django.core.exceptions import PermissionDenied, ValidationError


class ConcurrentEdit(ValidationError):
    """Somebody saved the record after this editor loaded it: refuse rather than overwrite."""

    def __init__(self, what: str = "该记录") -> None:
        super().__init__(f"{what}已被其他人修改,您的修改未保存。请刷新页面,在最新内容上重新修改。", code="stale")


class NotAllowed(PermissionDenied):
    pass
