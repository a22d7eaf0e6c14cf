# ruff: noqa: E501  (Chinese sample text: long literal lines are data)
"""Build ``pairs.jsonl``: labelled pairs for the near-duplicate threshold.

Run from the repository root: ``python tests/data/dedup/build_pairs.py [SEEDS_DIR]``.
Bodies come from the seed texts (header and footer lines cut as the page
pipeline cuts them; the traditional-script seed converted with OpenCC t2s and
its converter pinyin removed).  Positives (label 1) are reprints: another
portal's template around the body, traditional script converted back, small
edits, a changed first line, a dropped paragraph, and combinations.
Negatives (label 0) are different articles on the same topic: the seeds
against each other and hand-written reports on the same meeting, province,
leader or programme, some inside the same portal template.

The harder classes (``HARD_CLASSES``, with whether each should match) come
from the seed bodies and the replica's articles (``crawler/replica/sites``):
reprints abridged by a third of their sentences or more (转载时有删节, true
Jaccard 0.55-0.67), with an editor's note added, with paragraphs reordered,
and in traditional script with full-width punctuation as the reprinting page
has it (not converted back: the dedup stage must normalise it); negatives of
two reports of one meeting quoting the same passage (Jaccard up to ~0.34) and
two notices sharing a third of their text (a template).
"""

from __future__ import annotations

import json
import re
import sys
import tomllib
import unicodedata
from pathlib import Path

import opencc

HERE = Path(__file__).resolve().parent
REPLICA = HERE.parents[2] / "crawler" / "replica" / "sites"
# Harder classes: kind -> whether a pair of that kind should match (label 1) or not.
HARD_CLASSES = {
    "abridged": 1,
    "editor_note": 1,
    "reordered": 1,
    "traditional_raw": 1,
    "same_meeting_quote": 0,
    "shared_template_third": 0,
}
SEEDS = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "seeds"

# (file prefix, first body line starts with, last body line starts with)
BODIES = {
    "000": ("7月14日", "省委副书记胡玉亭"),
    "001": (
        "6月11日上午",
        "州委平安大理建设暨市域社会治理现代化试点工作领导小组办公室副主任、成员",
    ),
    "002": ("同志们", "预览阅读已结束"),
    "003": ("本报讯", "省委政法委副书记卢秉宇"),
    "004": ("9月1日", "夏华勇、张洪波"),
}

T2S = opencc.OpenCC("t2s")
S2T = opencc.OpenCC("s2t")
PINYIN = re.compile(r"\([a-zāáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜü]+\)")

TEMPLATE_CAC = (
    "当前位置:首页 > 政法动态 > 地方传真\n{title}\n发布时间:2022-07-16 09:30 来源:{source} 【字体:大 中 小】\n",
    "\n(责任编辑:刘洋)\n【打印本页】【关闭窗口】\n主办单位:中共辽宁省委政法委员会 ICP备案号:辽ICP备05001234号",
)
TEMPLATE_GOV = (
    "您当前的位置:首页 > 要闻动态\n{title}\n信息来源:{source} 浏览次数:1024 发布日期:2022年07月16日\n",
    "\n扫一扫在手机打开当前页\n网站标识码2102000012 辽公网安备21010202000123号",
)
LONG_FOOTER_000 = None  # filled from seed 000: its copyright declaration


def seed_text(prefix: str) -> str:
    path = next(SEEDS.glob(f"{prefix}_*.txt"))
    return path.read_text(encoding="utf-8")


def body(prefix: str) -> tuple[str, str]:
    """(title, body) of a seed, as the page pipeline would extract it."""
    raw = seed_text(prefix)
    if prefix == "003":
        raw = T2S.convert(PINYIN.sub("", raw))
        raw = raw.replace("?", "")
    lines = [ln.strip() for ln in raw.splitlines() if ln.strip()]
    first, last = BODIES[prefix]
    start = next(i for i, ln in enumerate(lines) if ln.startswith(first))
    end = next(i for i, ln in enumerate(lines) if ln.startswith(last))
    if prefix == "002":
        end -= 1
    title = lines[start - 1] if prefix != "002" else lines[0]
    return title, "\n".join(lines[start : end + 1])


def footer_000() -> str:
    raw = seed_text("000")
    i = raw.index("国际在线版权与信息产品内容销售的声明")
    return "\n".join(ln.strip() for ln in raw[i:].splitlines() if ln.strip())


def wrap(text: str, template: tuple[str, str], title: str, source: str) -> str:
    return template[0].format(title=title, source=source) + text + template[1]


def drop_paragraph(text: str, which: int) -> str:
    paras = text.split("\n")
    del paras[which % len(paras)]
    return "\n".join(paras)


def change_first_line(text: str, lead: str) -> str:
    paras = text.split("\n")
    paras[0] = lead
    return "\n".join(paras)


def edit(text: str, edits: list[tuple[str, str]]) -> str:
    for old, new in edits:
        text = text.replace(old, new, 1)
    return text


def to_traditional_and_back(text: str) -> str:
    return T2S.convert(S2T.convert(text))


EDITS = {
    "000": [
        ("7月14日", "14日"),
        ("在沈阳召开", "在沈阳市召开"),
        ("一系列", "一整套"),
        ("要压实压紧责任", "要层层压实责任"),
        ("沈阳、大连、鞍山作交流发言。", ""),
    ],
    "001": [
        ("6月11日上午", "11日上午"),
        ("会议指出", "会议认为"),
        ("尽锐出战", "全力以赴"),
        ("庞大的", "复杂的"),
    ],
    "002": [
        ("今天,我们召开", "今天召开"),
        ("必然选择", "必由之路"),
        ("一是", "一方面"),
        ("我省", "全省"),
    ],
    "003": [("7月15日", "15日"), ("专题调研", "调研"), ("于天敏强调", "于天敏指出")],
    "004": [("9月1日", "9月1日下午"), ("作重要讲话", "讲话"), ("一是信访形势不容乐观,", "")],
}
LEADS = {
    "000": "本报沈阳7月14日电 全省社会治理工作会议14日在沈阳召开,会议以电视电话会议形式召开。",
    "001": "大理州融媒体中心讯 近日,州委平安大理建设暨市域社会治理现代化试点工作推进会召开。",
    "002": "(根据录音整理,有删节)",
    "003": "辽宁长安网讯(记者 白国军)日前,省委政法委书记于天敏到本溪调研。",
    "004": "渠县新闻网讯 日前,渠县召开会议分析社会治理形势,部署平安渠县建设。",
}

# Different articles on the same meetings, province, leaders and programmes.
NEGATIVES = {
    "shenyang_relay": (
        "000",
        "7月15日,沈阳市委常委会召开会议,传达学习全省社会治理工作会议精神,研究部署我市贯彻落实工作。\n"
        "会议指出,全省社会治理工作会议是在迎接党的二十大胜利召开的关键时期召开的一次重要会议,"
        "省委书记张国清的讲话站位高远、内涵丰富,对加强和创新社会治理作出了全面部署,"
        "全市各级各部门要认真学习领会,切实把思想和行动统一到省委决策部署上来。\n"
        "会议强调,要坚持以习近平新时代中国特色社会主义思想为指导,加强党对社会治理的领导,"
        "统筹发展和安全,扎实开展风险隐患大排查大整治,着力在早发现、早处置上下功夫,"
        "坚决守住不发生重大风险的底线。要深化市域社会治理现代化试点,完善网格化管理服务机制,"
        "推动矛盾纠纷多元化解,提升社会治理社会化、法治化、智能化、专业化水平。\n"
        "会议要求,要压实各级党委政府主体责任,项目化、清单化推进各项任务落实,"
        "毫不动摇坚持动态清零总方针,从严从紧抓好常态化疫情防控,为党的二十大胜利召开营造安全稳定的社会环境。",
    ),
    "dalian_relay": (
        "000",
        "7月15日下午,大连市召开全市社会治理工作会议,传达贯彻全省社会治理工作会议精神,"
        "市委书记出席会议并讲话,市长主持会议。\n"
        "会议指出,党的十八大以来,以习近平同志为核心的党中央高度重视社会治理,"
        "全市上下要深入学习贯彻习近平总书记关于社会治理的重要论述,认真落实省委书记张国清在全省会议上的讲话要求,"
        "以更高标准推进平安大连建设。\n"
        "会议强调,要突出问题导向,聚焦信访积案化解、安全生产、道路交通、涉众型经济犯罪等重点领域,"
        "全面开展风险隐患排查整治,建立问题清单、责任清单、整改清单,确保排查质量。"
        "要发挥网格员、楼栋长作用,把矛盾纠纷化解在基层、解决在萌芽状态。\n"
        "会议要求,各地区各部门要把社会治理摆在更加突出位置,主要领导亲自抓、负总责,"
        "以实际行动和实际成效迎接党的二十大胜利召开。各区市县、先导区设分会场。",
    ),
    "zhang_inspection": (
        "000",
        "7月20日,省委书记、省人大常委会主任张国清到鞍山市调研基层社会治理和安全生产工作。\n"
        "张国清先后来到铁东区站前街道、鞍钢集团安全生产调度中心,详细了解网格化服务管理、"
        "矛盾纠纷排查化解和企业安全生产责任落实情况。\n"
        "张国清指出,社会治理的重心在基层,要坚持和发展新时代枫桥经验,健全党组织领导的自治、法治、德治相结合的城乡基层治理体系,"
        "推动资源、服务、管理向基层下沉,让群众的诉求有人听、有人管、有人办。\n"
        "张国清强调,要牢固树立安全发展理念,从严从实抓好安全生产,深入开展隐患排查整治,"
        "坚决防范遏制重特大事故发生。省委常委、秘书长陪同调研。",
    ),
    "liaoning_sweep": (
        "003",
        "7月22日,全省扫黑除恶常态化暨市域社会治理现代化试点工作推进会在沈阳召开。"
        "省委常委、政法委书记于天敏出席会议并讲话。\n"
        "于天敏指出,今年以来,全省各级政法机关坚决贯彻党中央决策部署,扫黑除恶常态化开展有力有效,"
        "市域社会治理现代化试点稳步推进,本溪、大连等试点城市形成了一批可复制可推广的经验。\n"
        "于天敏强调,要学习好、贯彻好习近平总书记关于社会治理的重要论述,坚持打早打小、露头就打,"
        "深化重点行业领域整治,健全防范长效机制。要对标对表试点工作指引,补齐短板弱项,"
        "确保试点工作高质量通过验收。省委政法委副书记卢秉宇主持会议。",
    ),
    "yu_dandong": (
        "003",
        "本报讯 7月28日,省委常委、政法委书记于天敏来到丹东市,就平安建设和市域社会治理现代化工作进行调研。\n"
        "于天敏先后走进振兴区帽盔山街道综治中心、丹东市公安局振兴分局站前派出所,"
        "详细了解综治中心实体化运行、矛盾纠纷多元化解和社区警务工作情况,勉励基层干部民警扎根社区、服务群众。\n"
        "调研期间,于天敏主持召开座谈会,听取丹东市平安建设工作汇报。"
        "于天敏强调,要进一步增强做好市域社会治理工作的责任感和紧迫感,"
        "坚持系统治理、依法治理、综合治理、源头治理,加快推进市域社会治理现代化,"
        "切实维护边境地区安全稳定。省委政法委有关负责同志随同调研。",
    ),
    "dali_second": (
        "001",
        "7月9日下午,平安大理建设暨市域社会治理现代化试点工作领导小组办公室第二次主任会议在州委政法委会议室召开。\n"
        "州委常委、州委政法委书记许云川主持会议并讲话。会议听取了各专项工作组上半年工作进展情况汇报,"
        "研究部署下半年市域社会治理现代化试点工作重点任务。\n"
        "会议指出,试点工作开展以来,各专项工作组认真履职,网格化服务管理、综治中心规范化建设、"
        "矛盾纠纷多元化解等工作取得阶段性成效,但也存在工作进展不平衡、部门协同不够紧密等问题。\n"
        "会议要求,各专项工作组要对照试点工作任务清单,逐项明确责任单位和完成时限,"
        "强化督促检查,确保各项任务按期完成。州委政法委副书记王绍荣通报了督查情况。",
    ),
    "qu_politics": (
        "004",
        "9月15日,渠县召开政法工作暨平安建设推进会,县委常委、政法委书记夏华勇出席会议并讲话。\n"
        "会上,县法院、县检察院、县公安局、县司法局分别汇报了今年以来重点工作推进情况,"
        "张洪波通报了全县社会治安形势和扫黑除恶常态化工作情况。\n"
        "夏华勇指出,今年以来,全县政法系统认真贯彻中央省市关于政法工作的部署要求,"
        "平安渠县建设取得新成效,人民群众获得感、幸福感、安全感不断增强。\n"
        "夏华勇强调,要坚持目标导向和问题导向,聚焦信访积案化解、治安防控、智慧政法建设等重点工作,"
        "压紧压实工作责任,强化协调联动,形成工作合力,确保全年目标任务圆满完成。县级相关部门负责同志参加会议。",
    ),
    "province_speech": (
        "002",
        "同志们:\n今天召开全市市域社会治理现代化试点工作推进会,主要任务是学习贯彻全省推进会精神,"
        "总结我市试点工作进展,安排部署下一阶段工作。下面,我讲三点意见。\n"
        "一、提高政治站位,深刻认识推进市域社会治理现代化的重大意义\n"
        "市域社会治理现代化是国家治理体系和治理能力现代化的重要组成部分。"
        "我市作为全国第一期试点城市,必须以更高标准、更实举措推进试点工作。\n"
        "二、聚焦重点任务,全力攻坚试点工作短板\n"
        "(一)健全矛盾纠纷多元化解机制。推动人民调解、行政调解、司法调解衔接联动,"
        "确保小事不出村、大事不出镇、矛盾不上交。(二)深化网格化服务管理。"
        "整合各类网格资源,实现一张网格管全域。(三)加强智能化建设。推进社会治理综合信息平台建设,"
        "提升风险预测预警预防能力。\n"
        "三、强化组织保障,确保试点工作取得实效\n"
        "各级党委要切实担负起主体责任,把试点工作纳入重要议事日程,加强督导考核,以钉钉子精神抓好落实。",
    ),
}


def replica_bodies() -> list[tuple[str, str]]:
    """(name, body) of the replica's own articles (not its copies of the seeds), NFKC."""
    out = []
    for path in sorted(REPLICA.glob("*/articles/*.toml")):
        if path.stem.startswith(("seed", "reprint", "dup")):
            continue
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        paras = [unicodedata.normalize("NFKC", ln).strip() for ln in data["body"].splitlines()]
        text = "\n".join(ln for ln in paras if ln)
        if len(text) >= 400 and "XX" not in text:
            out.append((f"{path.parent.parent.name}/{path.stem}", text))
    return out


SENTENCE = re.compile(r"(?<=[。!?;])")


def sentences(text: str) -> list[list[str]]:
    """Sentences of each paragraph."""
    return [[x for x in SENTENCE.split(p) if x] for p in text.split("\n")]


def abridge(text: str, keep: int, of: int) -> str:
    """Keep sentence i when i % of < keep (a third cut: keep=2, of=3); empty paragraphs drop."""
    out, i = [], 0
    for para in sentences(text):
        kept = []
        for sent in para:
            if i % of < keep:
                kept.append(sent)
            i += 1
        if kept:
            out.append("".join(kept))
    return "\n".join(out)


# Editors' notes as reprinting portals put them above a text (generic, no topic words).
NOTES = (
    "编者按:为进一步宣传推广各地经验做法,现将有关报道转载如下,供各地学习借鉴。",
    "编者按:本文转载自相关媒体,内容有删改,观点仅代表作者本人。如涉及版权问题,请与本网联系。",
    "【编者按】近期,各地认真贯彻落实上级决策部署,涌现出一批好经验好做法。本网特开设专栏,"
    "择要刊发,以飨读者。",
)
FULL_WIDTH = str.maketrans(
    {",": "，", ":": "：", ";": "；", "(": "（", ")": "）", "!": "！", "?": "？"}
)


def traditional_raw(text: str) -> str:
    """The text as a traditional-script page gives it: s2t, full-width punctuation."""
    return S2T.convert(text).translate(FULL_WIDTH)


def reorder(text: str, shift: int) -> str:
    paras = text.split("\n")
    if len(paras) < 3:
        paras = [x for p in sentences(text) for x in p]
    k = shift % len(paras) or 1
    return "\n".join(paras[k:] + paras[:k])


def chars(text: str, n: int) -> str:
    """About ``n`` characters of whole sentences of ``text``."""
    out: list[str] = []
    total = 0
    for sent in (x for p in sentences(text) for x in p):
        if total >= n:
            break
        out.append(sent)
        total += len(sent)
    return "".join(out)


def add_hard(add: object, sources: list[tuple[str, str]]) -> None:
    """The harder classes (see the module docstring), from ``sources`` (name, body)."""
    assert callable(add)
    for i, (name, text) in enumerate(sources):
        add(1, "abridged", text, abridge(text, 2, 3), f"{name}: every third sentence cut")
        if i % 2 == 0:
            add(1, "abridged", abridge(text, 2, 3), text, f"{name}: the abridged copy first")
        if i % 3 == 0:
            add(1, "abridged", text, abridge(text, 3, 5), f"{name}: two sentences in five cut")
        note = NOTES[i % len(NOTES)]
        add(1, "editor_note", text, note + "\n" + text, f"{name}: an editor's note above")
        add(1, "reordered", text, reorder(text, i + 1), f"{name}: paragraphs reordered")
        add(1, "traditional_raw", text, traditional_raw(text), f"{name}: traditional, full-width")
        if i % 4 == 0:
            add(
                1,
                "traditional_raw",
                traditional_raw(text),
                abridge(text, 4, 5),
                f"{name}: traditional original, simplified copy with a fifth cut",
            )
    # Two reports of one meeting quoting the same passage: shared part about a third.
    for i, (name, text) in enumerate(sources):
        x_name, x = sources[(i + 1) % len(sources)]
        y_name, y = sources[(i + 2) % len(sources)]
        n = min(len(text), len(x), len(y)) // 2
        quote = chars(text, n * 4 // 5)
        a = chars(x, n) + "\n" + quote
        b = quote + "\n" + chars(y, n)
        add(0, "same_meeting_quote", a, b, f"{x_name} and {y_name} quoting {name}")
        # Two notices sharing a third of their text (the same template paragraphs).
        template = chars(text, n // 2)
        add(
            0,
            "shared_template_third",
            template + "\n" + chars(x, n),
            template + "\n" + chars(y, n),
            f"{x_name} and {y_name} under one template from {name}",
        )


def main() -> None:
    pairs: list[dict[str, object]] = []
    footer = footer_000()

    def add(label: int, kind: str, a: str, b: str, note: str) -> None:
        pairs.append(
            {"id": f"p{len(pairs):03d}", "label": label, "kind": kind, "note": note, "a": a, "b": b}
        )

    bodies = {p: body(p) for p in BODIES}
    for p, (title, text) in bodies.items():
        n = len(text.split("\n"))
        add(
            1,
            "other_template",
            text,
            wrap(text, TEMPLATE_CAC, title, "辽宁日报"),
            f"{p}: CAC template",
        )
        add(
            1,
            "other_template",
            wrap(text, TEMPLATE_GOV, title, "省政府网"),
            wrap(text, TEMPLATE_CAC, title, "辽宁日报"),
            f"{p}: gov vs CAC templates",
        )
        add(1, "long_footer", text, text + "\n" + footer, f"{p}: a copyright declaration left in")
        add(1, "traditional", text, to_traditional_and_back(text), f"{p}: s2t then t2s")
        add(1, "edits", text, edit(text, EDITS[p]), f"{p}: word edits")
        add(1, "first_line", text, change_first_line(text, LEADS[p]), f"{p}: new lead paragraph")
        add(
            1,
            "dropped_paragraph",
            text,
            drop_paragraph(text, n // 2),
            f"{p}: middle paragraph dropped",
        )
        add(
            1,
            "dropped_paragraph",
            text,
            drop_paragraph(text, n - 1),
            f"{p}: last paragraph dropped",
        )
        add(
            1,
            "combined",
            text,
            wrap(
                drop_paragraph(to_traditional_and_back(edit(text, EDITS[p])), 1),
                TEMPLATE_GOV,
                title,
                "长安网",
            ),
            f"{p}: edits, traditional, dropped paragraph, template",
        )
        add(
            1,
            "combined",
            change_first_line(text, LEADS[p]),
            wrap(drop_paragraph(text, n - 2), TEMPLATE_CAC, title, "法制网"),
            f"{p}: new lead vs dropped paragraph in a template",
        )
    keys = list(bodies)
    for i, p in enumerate(keys):
        for q in keys[i + 1 :]:
            add(0, "seed_vs_seed", bodies[p][1], bodies[q][1], f"{p} vs {q}: same topic")
    for name, (p, text) in NEGATIVES.items():
        add(0, "same_meeting", bodies[p][1], text, f"{p} vs {name}")
        add(
            0,
            "same_template",
            wrap(bodies[p][1], TEMPLATE_CAC, bodies[p][0], "辽宁日报"),
            wrap(text, TEMPLATE_CAC, name, "辽宁日报"),
            f"{p} vs {name}, both in one template",
        )
    names = list(NEGATIVES)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            if NEGATIVES[a][0] == NEGATIVES[b][0]:
                add(0, "same_meeting", NEGATIVES[a][1], NEGATIVES[b][1], f"{a} vs {b}")
    add(
        0,
        "same_footer",
        bodies["000"][1] + "\n" + footer,
        NEGATIVES["shenyang_relay"][1] + "\n" + footer,
        "000 vs shenyang_relay, same long footer",
    )
    add(
        0,
        "same_footer",
        bodies["000"][1] + "\n" + footer,
        NEGATIVES["zhang_inspection"][1] + "\n" + footer,
        "000 vs zhang_inspection, same long footer",
    )
    add_hard(add, [(f"seed {p}", bodies[p][1]) for p in keys] + replica_bodies())
    with (HERE / "pairs.jsonl").open("w", encoding="utf-8") as f:
        for pair in pairs:
            f.write(json.dumps(pair, ensure_ascii=False) + "\n")
    print(f"{len(pairs)} pairs: {sum(int(p['label'] == 1) for p in pairs)} reprints")


if __name__ == "__main__":
    main()
