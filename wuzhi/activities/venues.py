"""Places and titles the activity forms offer (a worker picks rather than types on a phone).

The 法治文化园 is "一站、一廊、一梯" (the article): law-education events are held at one of its
three venues. Other venues are the community's rooms and squares. The lists are suggestions:
the venue field stays free text, so a new place needs no code change."""

from __future__ import annotations

LAW_VENUES = ["普法知识站", "法治长廊", "法治园梯"]
VENUES = ["党群服务中心", "新时代文明实践站", "社区广场", "文体活动中心", "党建书屋", "法治文化园", *LAW_VENUES]

# Kinds recorded on the quick event page, with the titles and partners most used for each.
EVENT_KINDS = ["law", "gratitude", "training", "art", "festival"]
EVENT_TITLES = {
    "law": ["道路交通安全普法宣传", "家庭教育促进法宣传", "禁毒宣传", "防范电信网络诈骗宣传", "民法典进社区"],
    "gratitude": ["政策宣讲会", "文明礼仪进社区", "我来为你上课", "我来为你唱首歌"],
    "training": ["市民培训", "双创知识问答比赛", "家风家教宣讲会", "先进典型宣讲会"],
    "art": ["广场舞排练", "文艺节目排练", "文艺演出"],
    "festival": ["过新年·感党恩", "浓情端午·尽情放粽", "中秋联欢", "重阳敬老"],
}
PARTNERS = ["县司法局", "县公安局交警大队", "县禁毒办", "县妇联", "县人民法院", "绥江县委组织部", "县卫生健康局",
            "四川农业大学"]
