"""`wuzhi gen-city --residents N [--seed S]`: see wuzhi.scale.city."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from wuzhi.scale.city import CityExists, CityOptions, generate_city, vacuum_analyze


class Command(BaseCommand):
    help = "生成一个昭通规模的模拟城市(区域树、房屋、户、人、标签、事项、活动、呼叫器),可同时写出户籍信息表"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--residents", type=int, required=True, help="居民人数")
        parser.add_argument("--seed", type=int, default=2026)
        parser.add_argument("--load", choices=["all", "areas", "none"], default="all",
                            help="all: 全部写入数据库; areas: 只写区域树(供导入); none: 只写名单文件")
        parser.add_argument("--roster", type=Path, help="同时写出户籍信息表(.csv 或 .xlsx),格式与导入模板相同")
        parser.add_argument("--counties", type=int, help="只生成前N个县区")
        parser.add_argument("--towns", type=int)
        parser.add_argument("--communities", type=int)
        parser.add_argument("--grids", type=int)
        parser.add_argument("--json", action="store_true", help="以JSON输出统计")

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["load"] == "none" and opts["roster"] is None:
            raise CommandError("--load none 需要同时给出 --roster 文件")
        options = CityOptions(residents=opts["residents"], seed=opts["seed"], load=opts["load"], roster=opts["roster"],
                              towns=opts["towns"], communities=opts["communities"], grids=opts["grids"],
                              counties=opts["counties"])
        log = (lambda s: None) if opts["json"] else (lambda s: self.stdout.write(s))
        try:
            result = generate_city(options, log=log)
        except CityExists as exc:
            raise CommandError(str(exc)) from exc
        if options.load != "none":
            vacuum_analyze()
        out = {"shape": result.shape.__dict__, "counts": result.counts.as_dict(), "seconds": round(result.seconds, 1)}
        self.stdout.write(json.dumps(out, ensure_ascii=False) if opts["json"] else
                          f"完成: {json.dumps(out, ensure_ascii=False)}")
